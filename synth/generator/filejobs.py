"""Committee files written off the main process: the run renders rows, writer processes serialize them.

Serializing (xlsxwriter packaging, zip deflate, CSV encoding) is most of the generator's time at city
cardinality (~300k small files). The main process still draws every random number in the same order and
decides every cell; a `FileJob` carries the finished cells, and `write_job` runs the very same sinks
(`CsvSink`, `XlsxSink`) wherever it runs. Output is therefore byte-identical for any number of writers,
including 0 (in-process), which keeps the bundled sample reproducible.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from synth.generator.fastxlsx import write_xlsx
from synth.generator.render import Style
from synth.generator.writers import CsvSink, XlsxSink

FAST_XLSX = True  # synth.generator.fastxlsx instead of xlsxwriter for committee workbooks (same bytes)
BATCH_ROWS = 20_000  # rows per task sent to a writer: amortizes pickling and IPC over many small files
BATCH_FILES = 400


@dataclass
class FileJob:
    """One complete committee file: layout, cells, closing rows and the mtime to stamp."""

    path: Path
    style: Style
    header: list[str]
    title: str
    n_cols: int
    rows: list[list[object]] = field(default_factory=list)
    month_cols: frozenset[int] = frozenset()
    mtime: float = 0.0
    sums: dict[int, float] | None = None
    signer: tuple[str, str] = ("", "")
    filed: date | None = None


class BufferedSink:
    """Collects one file's rows in memory and numbers them exactly as `CsvSink`/`XlsxSink` would."""

    def __init__(self, job: FileJob) -> None:
        self.job = job
        st = job.style
        self.encoding = st.fmt
        self.sheet = st.sheet_name if st.fmt == "xlsx" else None
        # CSV: header is physical row 1. XLSX: optional title (+ gap), then header, then data.
        self._first = 1
        if st.fmt == "xlsx" and st.title:
            self._first += 2 if st.title_gap else 1

    def write(self, cells: list[object], month_cols: frozenset[int] = frozenset()) -> int:
        """Buffer one data row; returns the 1-based physical row number it will have in the file."""
        self.job.rows.append(cells)
        self.job.month_cols = month_cols
        return self._first + len(self.job.rows)

    def write_many(self, rows: list[list[object]]) -> int:
        """Buffer rows (month columns set by the caller); returns the physical row number of the first."""
        first = self._first + len(self.job.rows) + 1
        self.job.rows.extend(rows)
        return first


def write_job(job: FileJob) -> tuple[int, str]:
    """Write one file with the streaming sinks, stamp its mtime; returns (bytes, kind for the summary)."""
    kind: str
    if job.style.fmt == "xlsx":
        if FAST_XLSX:
            write_xlsx(
                job.path, job.style, job.header, job.title, job.n_cols, job.rows, job.month_cols,
                job.sums, job.signer, job.filed,
            )  # fmt: skip
        else:
            xs = XlsxSink(job.path, job.style, job.header, job.title, job.n_cols, streaming=False)
            for cells in job.rows:
                xs.write(cells, job.month_cols)
            xs.close(sums=job.sums, signer=job.signer, filed=job.filed)
        kind = "xlsx"
    else:
        cs = CsvSink(job.path, job.style, job.header)
        cs.write_many(job.rows)
        cs.close()
        kind = f"csv/{cs.encoding}"  # GBK files that needed GB18030 report the latter
    os.utime(job.path, (job.mtime, job.mtime))
    return job.path.stat().st_size, kind


def write_batch(jobs: list[FileJob]) -> list[tuple[int, str]]:
    return [write_job(j) for j in jobs]


class FileWriter:
    """Writes jobs in-process (`workers=0`) or in a pool of forked processes with bounded work in flight.

    `on_done(bytes, kind)` is called once per file, in the main process; only order-free summary
    counters are updated there, so completion order never shows in the output.
    """

    def __init__(self, workers: int, on_done: Callable[[int, str], None]) -> None:
        self.workers = workers
        self.on_done = on_done
        self._pool: ProcessPoolExecutor | None = None
        if workers > 0:
            # fork: workers inherit the imported modules; they never touch polars or DuckDB.
            ctx = multiprocessing.get_context("fork")
            self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
        self._batch: list[FileJob] = []
        self._batch_rows = 0
        self._inflight: deque[Future[list[tuple[int, str]]]] = deque()

    def submit(self, job: FileJob) -> None:
        if self._pool is None:
            self.on_done(*write_job(job))
            return
        self._batch.append(job)
        self._batch_rows += len(job.rows)
        if self._batch_rows >= BATCH_ROWS or len(self._batch) >= BATCH_FILES:
            self._dispatch()

    def _dispatch(self) -> None:
        assert self._pool is not None
        if self._batch:
            self._inflight.append(self._pool.submit(write_batch, self._batch))
            self._batch, self._batch_rows = [], 0
        while len(self._inflight) > 2 * self.workers:  # bound memory: at most ~2 batches queued per writer
            self._collect(self._inflight.popleft())

    def _collect(self, fut: Future[list[tuple[int, str]]]) -> None:
        for size, kind in fut.result():  # re-raises a writer's exception here
            self.on_done(size, kind)

    def close(self) -> None:
        """Write what is buffered and wait for every file."""
        if self._pool is None:
            return
        try:
            self._dispatch()
            while self._inflight:
                self._collect(self._inflight.popleft())
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def abort(self) -> None:
        """Stop after an error elsewhere: drop queued batches, wait only for the ones running."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._batch, self._inflight = [], deque()
