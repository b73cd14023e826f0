"""Read, parse and stage one district's files on every core, in a process pool.

Parsing a file, finding its layout, classifying its rows and normalizing its values depend on that file
(and the catalog) only, so a district's files are cut into contiguous chunks, each chunk is staged in a
worker process exactly as a serial run would stage it, and the chunks are put back together in file order:
the result is the same rows in the same order, whatever the number of workers.

The pool uses the `spawn` start method (forking a process that holds DuckDB and polars threads can
deadlock) and lives for the whole process, so workers pay their imports once per run, not per district.
Small districts are staged in-process: a pool costs more than it saves below `MIN_FILES_FOR_POOL` files.
The pool is off by default (see `_workers`): measured here, it did not pay for itself yet.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import polars as pl

from assets.ingest import stage
from assets.ingest.reader import FileRejected, LandingFile, parse_file, sha256_bytes, validate_location

log = logging.getLogger(__name__)

MIN_FILES_FOR_POOL = 64
CHUNKS_PER_WORKER = 4  # several chunks per worker even out files of different sizes
# Measured on a 4-district share (1,836 files, 116k rows) on the shared 2-core machine at load ~8: serial
# 4.8 CPU-s / 7.6-8.2 s wall, 2 workers 8.4-8.6 CPU-s / 11-13 s wall (per-worker imports and pickling the
# staged frames back cost more than the parallel work saved). Serial stays the default until that changes;
# JIANFU_INGEST_WORKERS=2 (or configure(2)) turns the pool on.
_workers = 1
_pool: ProcessPoolExecutor | None = None


def configure(workers: int) -> None:
    """Number of worker processes (1 = stage in-process). Takes effect for the next district."""
    global _workers
    _workers = max(1, int(workers))
    shutdown()


def shutdown() -> None:
    """Stop the workers (they hold their imports and buffers until the process ends otherwise)."""
    global _pool
    if _pool is not None:
        _pool.shutdown(cancel_futures=True)
        _pool = None


atexit.register(shutdown)


def _executor() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(max_workers=_workers, mp_context=multiprocessing.get_context("spawn"))
    return _pool


@dataclass
class Staged:
    """What staging a district's current files produced: kept file ids, per-file outcomes, staged rows."""

    keep_ids: list[str] = field(default_factory=list)
    outcomes: list[stage.FileOutcome] = field(default_factory=list)
    staged: stage.StagedBatch | None = None
    files_read: int = 0


def stage_chunk(
    files: list[LandingFile], known: dict[str, str], ctx: object, run_id: str, full_refresh: bool
) -> Staged:
    """Stage files one after another (the serial path, and one worker's share of a district)."""
    from assets.ingest.pipeline import _count_rows, file_id  # pipeline imports this module

    batch = stage.Batch()
    out = Staged()
    for file in files:
        data = file.path.read_bytes()
        file_hash = sha256_bytes(data)
        fid = file_id(file.source_file, file_hash)
        if not full_refresh and known.get(fid) == stage.INGEST_VERSION:
            out.keep_ids.append(fid)  # same place, same bytes, same parser: nothing to do
            continue
        out.files_read += 1
        try:
            validate_location(file, ctx.frequency, ctx.divisions.committees)  # type: ignore[attr-defined]
            parsed = parse_file(file, data)
            stage.add_file(batch, file, fid, file_hash, parsed, ctx.fields_by_form[file.form_code],  # type: ignore[attr-defined]
                           ctx.synonyms, ctx.divisions)  # type: ignore[attr-defined]  # fmt: skip
        except FileRejected as exc:
            batch.outcomes.append(
                stage.FileOutcome(
                    file,
                    fid,
                    file_hash,
                    "rejected",
                    exc.reason_code,
                    exc.message,
                    rows_read=_count_rows(file, data),
                )  # fmt: skip
            )
    out.outcomes = batch.outcomes
    out.staged = stage.finish(batch, run_id)
    return out


def _concat(parts: list[stage.StagedBatch]) -> stage.StagedBatch:
    return stage.StagedBatch(
        *(
            pl.concat([getattr(p, name) for p in parts], how="vertical")
            for name in ("records", "values", "quarantine", "skipped")
        )
    )


def stage_files(
    files: list[LandingFile], known: dict[str, str], ctx: object, run_id: str, full_refresh: bool = False
) -> Staged:
    """Stage a district's current files, in parallel when it has enough of them; results in file order."""
    start = time.perf_counter()
    if _workers <= 1 or len(files) < MIN_FILES_FOR_POOL:
        result = stage_chunk(files, known, ctx, run_id, full_refresh)
    else:
        n = min(len(files), _workers * CHUNKS_PER_WORKER)
        bounds = [len(files) * i // n for i in range(n + 1)]
        chunks = [files[bounds[i] : bounds[i + 1]] for i in range(n)]
        pool = _executor()
        parts = list(pool.map(stage_chunk, chunks, [known] * n, [ctx] * n, [run_id] * n, [full_refresh] * n))
        result = Staged(
            keep_ids=[fid for p in parts for fid in p.keep_ids],
            outcomes=[o for p in parts for o in p.outcomes],
            staged=_concat([p.staged for p in parts if p.staged is not None]),
            files_read=sum(p.files_read for p in parts),
        )
    seconds = time.perf_counter() - start
    if result.files_read:
        log.info(
            "%s: %d of %d files read, %d rows staged in %.1fs (%d worker%s)",
            files[0].district_code if files else "-", result.files_read, len(files),
            result.staged.records.height if result.staged is not None else 0, seconds, _workers,
            "s" if _workers > 1 else "",
        )  # fmt: skip
    return result
