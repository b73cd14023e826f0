"""Workbook writing and reading on every core: a small process pool for the per-file work of reflow.

Writing a prefilled workbook (xlsxwriter) and parsing a returned one (calamine) are pure Python work per
file, independent of each other: at bench scale (13,547 workbooks written, 6,821 read) they were most of
the reflow stage on one core. The pool starts lazily, only when a batch is large enough to pay for the
worker start (~0.5 s of imports each), so small runs and the tests stay in process. Workers are spawned
(never forked: the parent holds DuckDB's threads and locks) and import only this module's dependencies.

`JIANFU_REFLOW_WORKERS` sets the number of workers (default: the CPU count; 1 or 0 = in process).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import types
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assets.reflow.workbook import FormSheet, ReturnedSheet, read_returned, write_workbook

log = logging.getLogger(__name__)

MIN_BATCH = 200  # fewer files than this are handled in process: starting workers would cost more
CHUNK = 32  # files per task: amortizes pickling and scheduling


def worker_count() -> int:
    """Workers from `JIANFU_REFLOW_WORKERS`, else the CPU count."""
    raw = os.environ.get("JIANFU_REFLOW_WORKERS", "").strip()
    if raw:
        try:
            return max(0, int(raw))
        except ValueError:
            log.warning("JIANFU_REFLOW_WORKERS=%r is not a number; using the CPU count", raw)
    return os.cpu_count() or 1


def _write_many(items: Sequence[tuple[str, FormSheet, bool]]) -> int:
    for path, sheet, with_id in items:
        write_workbook(Path(path), sheet, with_id=with_id)
    return len(items)


def _read_many(paths: Sequence[str]) -> list[ReturnedSheet | str]:
    """Each file parsed, or the reason it could not be (calamine raises several types for broken files)."""
    out: list[ReturnedSheet | str] = []
    for path in paths:
        try:
            out.append(read_returned(Path(path).read_bytes()))
        except Exception as exc:  # noqa: BLE001 - reported per file by the caller, never stops the batch
            out.append(f"{type(exc).__name__}: {exc}")
    return out


@contextmanager
def _without_main() -> Iterator[None]:
    """Spawned workers re-run the parent's `__main__` script unless it is hidden while they start (an
    unguarded script would open the warehouse again); the workers need nothing from it."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def _chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class FilePool:
    """Writes workbooks in the background and reads returned ones in parallel; in process when small.

    Use as a context manager: leaving it waits for every pending write and re-raises the first error."""

    def __init__(self, workers: int | None = None, min_batch: int = MIN_BATCH) -> None:
        self.workers = worker_count() if workers is None else workers
        self.min_batch = min_batch
        self._executor: ProcessPoolExecutor | None = None
        self._pending: list[Future] = []

    def __enter__(self) -> FilePool:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self.wait()
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=exc[0] is not None)
                self._executor = None

    def _pool(self, n: int) -> ProcessPoolExecutor | None:
        if self.workers <= 1 or n < self.min_batch:
            return self._executor  # an already started pool is still used; none is started for a few files
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn")
            )
        return self._executor

    @staticmethod
    def _submit(pool: ProcessPoolExecutor, fn: Callable[..., Any], arg: Sequence) -> Future:
        with _without_main():  # a submit may start a worker
            return pool.submit(fn, arg)

    def write(self, items: Sequence[tuple[Path, FormSheet, bool]]) -> None:
        """Write (path, sheet, with_id) workbooks: queued to the workers, or now when few and no pool runs."""
        jobs = [(str(p), s, w) for p, s, w in items]
        pool = self._pool(len(jobs))
        if pool is None:
            _write_many(jobs)
            return
        self._pending += [self._submit(pool, _write_many, chunk) for chunk in _chunks(jobs, CHUNK)]

    def wait(self) -> int:
        """Block until every queued write is done; raise the first worker error."""
        done = sum(f.result() for f in self._pending)
        self._pending = []
        return done

    def map(self, fn: Callable[..., Any], calls: Sequence[tuple], items: int | None = None) -> list[Any]:
        """`fn(*args)` for each args tuple, on the workers when there are several calls (`fn` must be a
        module-level function: it is pickled by name). `items`: how many files the calls handle in all,
        when they are batches (the pool starts from `min_batch` files, as for reads and writes)."""
        if items is None:
            items = self.min_batch if len(calls) > 1 else 0
        pool = self._pool(items)
        if pool is None:
            return [fn(*args) for args in calls]
        with _without_main():
            futures = [pool.submit(fn, *args) for args in calls]
        return [f.result() for f in futures]

    def read(self, paths: Sequence[Path]) -> list[ReturnedSheet | str]:
        """Parse returned workbooks, in file order: a ReturnedSheet, or why the file could not be read."""
        names = [str(p) for p in paths]
        pool = self._pool(len(names))
        if pool is None:
            return _read_many(names)
        futures = [self._submit(pool, _read_many, chunk) for chunk in _chunks(names, CHUNK)]
        return [sheet for f in futures for sheet in f.result()]


def simulate_districts(prefill_root: Path, returns_root: Path, seed: int, districts: list[str]) -> object:
    """The generator's simulated returns (sample and bench only), one district per call on the workers:
    each file is seeded by its own path, so the files are those of one call over every district."""
    from synth.generator.returns import ReturnsSummary, simulate_returns

    with FilePool() as pool:
        parts = pool.map(simulate_returns, [(prefill_root, returns_root, seed, None, [d]) for d in districts])
    total = ReturnsSummary()
    for part in parts:
        total.files += part.files
        for key, n in part.by_kind.items():
            total.count(key, n, kind=True)
        for key, n in part.edits.items():
            total.count(key, n)
    return total
