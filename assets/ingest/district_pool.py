"""Ingest the districts of one run in a pool of processes, one district per task (no dagster here).

A district run already writes only its own Parquet generation and swaps it in atomically
(assets/ingest/parquet_store.py), so districts of one run share nothing but the read-only context: each
task is exactly `pipeline.ingest_district_to_store` in a worker process. The row accounting is per district
and per file, as in one process. A district that fails does not stop the others: every district is
tried, and the run then fails naming each failed district and its error.

Workers are started with `spawn` (never `fork`): the calling process may hold polars' and DuckDB's thread
pools, which a forked child would inherit in an undefined state.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from assets.ingest import pipeline
from assets.ingest.parquet_store import DistrictStore

log = logging.getLogger(__name__)

_CTX: pipeline.IngestContext | None = None  # the worker's copy, received once at start
# with `workers` left to its default, fewer files than this are ingested in this process: a spawned worker
# pays about a second of imports and context, which a few hundred small files (~6 ms each) do not repay
MIN_FILES_FOR_POOL = 1_000


@dataclass(frozen=True)
class Job:
    """What varies between the district tasks of one run."""

    store_root: str
    landing_root: str
    run_id: str
    full_refresh: bool
    as_of: dt.date | None


class DistrictsFailed(RuntimeError):
    """Some districts of the run failed; the others were ingested."""

    def __init__(self, failures: dict[str, BaseException], results: list[pipeline.DistrictResult]) -> None:
        self.failures, self.results = failures, results
        lines = [f"district {d}: {type(e).__name__}: {e}" for d, e in failures.items()]
        super().__init__(f"{len(failures)} district(s) failed:\n" + "\n".join(lines))


def default_workers() -> int:
    """`JIANFU_INGEST_WORKERS` when set (1 = in process), else the cores this process may run on."""
    raw = os.environ.get("JIANFU_INGEST_WORKERS", "").strip()
    if raw:
        try:
            return max(1, int(raw))
        except ValueError:
            log.warning("JIANFU_INGEST_WORKERS=%r is not a number; using the cores", raw)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _init_worker(ctx: pipeline.IngestContext, level: int) -> None:
    global _CTX
    _CTX = ctx
    # the parent's handlers do not cross `spawn`: this worker's warnings and progress go to stderr
    logging.basicConfig(level=level, format="[%(asctime)s] %(message)s", datefmt="%H:%M:%S")


def _ingest_one(job: Job, district: str) -> pipeline.DistrictResult:
    assert _CTX is not None, "worker started without its ingestion context"
    return pipeline.ingest_district_to_store(DistrictStore(job.store_root), Path(job.landing_root), district, _CTX,
                                             job.run_id, full_refresh=job.full_refresh, as_of=job.as_of)  # fmt: skip


def ingest_districts(
    store: DistrictStore,
    landing_root: Path,
    districts: list[str],
    ctx: pipeline.IngestContext,
    run_id: str,
    full_refresh: bool = False,
    as_of: dt.date | None = None,
    workers: int = 0,
) -> list[pipeline.DistrictResult]:
    """Each district's result, in the order given. `workers` 0 means one per core; with one worker, or one
    district, or (by default) fewer than MIN_FILES_FOR_POOL files, everything runs in this process. Raises
    DistrictsFailed after every district was tried."""
    if not workers and len(districts) > 1:
        small = sum(_folder_files(Path(landing_root) / d) for d in districts) < MIN_FILES_FOR_POOL
        workers = 1 if small else default_workers()
    workers = min(workers or default_workers(), len(districts))
    job = Job(str(store.root), str(landing_root), run_id, full_refresh, as_of)
    results: dict[str, pipeline.DistrictResult] = {}
    failures: dict[str, BaseException] = {}
    if workers <= 1:
        for district in districts:
            try:
                results[district] = pipeline.ingest_district_to_store(
                    store, Path(landing_root), district, ctx, run_id, full_refresh=full_refresh, as_of=as_of
                )
            except Exception as exc:  # the next district still runs
                log.exception("district %s failed", district)
                failures[district] = exc
    else:
        level = logging.getLogger("assets").getEffectiveLevel()
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=spawn, initializer=_init_worker,
                                 initargs=(ctx, level)) as pool:  # fmt: skip
            # largest districts first, so that no worker is left with a big one at the end
            order = sorted(districts, key=lambda d: -_folder_files(Path(landing_root) / d))
            futures = {d: pool.submit(_ingest_one, job, d) for d in order}
            for district, future in futures.items():
                try:
                    results[district] = future.result()
                except Exception as exc:
                    log.error("district %s failed: %s", district, exc)
                    failures[district] = exc
    done = [results[d] for d in districts if d in results]
    if failures:
        raise DistrictsFailed(failures, done)
    return done


def _folder_files(folder: Path) -> int:
    """Files under a district folder (a cheap size estimate; 0 when it does not exist)."""
    if not folder.is_dir():
        return 0
    return sum(len(files) for _, _, files in os.walk(folder))
