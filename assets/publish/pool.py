"""Write the products of one run in a pool of processes, one product per task (no dagster here).

The calling process stages every source once into a DuckDB file beside the building folder (`stage_file`), with
the tokens of the leak scan and the sensitive rosters; each worker attaches that file read-only (any number of
readers may), keeps its own in-memory connection for what it plans, and writes and scans whole products into
`.building/<run>`: one writer per product file. The records come back to the caller, which seals the generation
as in one process. A worker's failure fails the run (nothing becomes visible).

Workers are started with `spawn` (never `fork`: the parent holds DuckDB's and polars' thread pools).
`JIANFU_PUBLISH_WORKERS` sets how many (default: the cores; 1 = in process); each gets 1/n of
`JIANFU_PUBLISH_MEMORY_LIMIT` and of the cores as DuckDB threads (measured: two workers of two threads each on
2 cores burnt ~25% more CPU for the same products than two of one thread).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import duckdb

from assets.common.warehouse import spill_directory
from assets.publish import binding, build, leakscan
from assets.publish.masking import quote_literal, register_hmac
from assets.publish.policy import Policy

log = logging.getLogger(__name__)

STAGE_ALIAS = "stage"
# with the worker count left to its default, fewer jobs than this are written in this process: a spawned worker
# pays ~1-2 s of imports and attaching, which a handful of products (~0.3 s each) do not repay
MIN_JOBS_FOR_POOL = 12
MAX_STAGED_SHARE = 0.5
MAX_SMALL_STAGE = 1_000_000  # source rows staged into a file in about a second or two
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}  # fmt: skip

_STATE: dict[str, object] = {}  # the worker's context and connection, set once at start


def default_workers() -> int:
    """`JIANFU_PUBLISH_WORKERS` when set (1 = in process), else the cores this process may run on."""
    raw = os.environ.get("JIANFU_PUBLISH_WORKERS", "").strip()
    if raw:
        try:
            return max(1, int(raw))
        except ValueError:
            log.warning("JIANFU_PUBLISH_WORKERS=%r is not a number; using the cores", raw)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def workers_for(
    jobs: int, staged_share: float = 0.0, workers: int | None = None, staged_rows: int = 0
) -> int:
    """How many processes write `jobs` products: 1 (this process) unless the pool repays its start. With the
    count left to its default, the pool is used only for enough jobs that read at most MAX_STAGED_SHARE of the
    source rows (`staged_share`) or at most MAX_SMALL_STAGE rows: staging every row into the stage file cost ~5x
    copying it into memory on the bench warehouse (the city product reads every row), more than two workers
    saved; on the bundled sample (~230k rows) it costs ~1 s and two workers halve the wall time."""
    explicit = os.environ.get("JIANFU_PUBLISH_WORKERS", "").strip() or workers
    n = workers or default_workers()
    big = staged_share > MAX_STAGED_SHARE and staged_rows > MAX_SMALL_STAGE
    if not explicit and (jobs < MIN_JOBS_FOR_POOL or big):
        return 1
    return max(1, min(n, jobs))


def split_limit(limit: str, parts: int) -> str:
    """One worker's share of a DuckDB memory limit ('3GB' / 2 = '1500MB'); unparsable values are kept."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", limit)
    if not m or m.group(2).lower() not in _UNITS or parts <= 1:
        return limit
    return f"{max(1, int(float(m.group(1)) * _UNITS[m.group(2).lower()] / parts / 10**6))}MB"


def stage_file(building: Path) -> Path:
    """Beside (not inside) the building folder: it is never sealed into a generation, and `cleanup` removes it
    with every other leftover of `.building/`."""
    return building.parent / f"{building.name}.stage.duckdb"


def covering(prefixes: Iterable[str]) -> list[str]:
    """The fewest prefixes covering these jurisdictions (a district's prefix covers its committees)."""
    out: list[str] = []
    for p in sorted(set(prefixes), key=lambda x: (len(x), x)):
        if not any(p.startswith(q) for q in out):
            out.append(p)
    return out


def write_stage(con: duckdb.DuckDBPyConnection, policy: Policy, bound: list[binding.BoundDataset],
                path: Path, prefixes: list[str] | None = None) -> dict[str, int]:  # fmt: skip
    """Stage the bound datasets (and lineage) into `path` instead of memory — only the rows under `prefixes`,
    what the jobs read — with the leak-scan tokens (of every source row: a leak may be anyone's value) and the
    form classes; detach it so that workers can attach it read-only. Returns the token counts per kind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, Path(str(path) + ".wal")):
        stale.unlink(missing_ok=True)
    tokens = leakscan.build_tokens(con, policy, bound)
    con.execute(f"ATTACH {quote_literal(str(path))} AS {STAGE_ALIAS}")
    try:
        binding.materialize(con, bound, into=STAGE_ALIAS, prefixes=prefixes)
        for table in (leakscan.TOKENS_TABLE, binding.FORM_CLASS_TABLE):
            name = table.rsplit(".", 1)[1]
            con.execute(f"CREATE TABLE {STAGE_ALIAS}.main.{name} AS SELECT * FROM {table}")
        con.execute(f"CHECKPOINT {STAGE_ALIAS}")
    finally:
        con.execute(f"DETACH {STAGE_ALIAS}")
    return tokens


def _init_worker(ctx: build.Context, stage: str, mask_key: bytes, memory_limit: str, threads: int,
                 unsafe_test_crypto: bool, level: int) -> None:  # fmt: skip
    logging.basicConfig(level=level, format="[%(asctime)s] %(message)s", datefmt="%H:%M:%S")
    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit = {quote_literal(memory_limit)}")
    con.execute(f"SET temp_directory = {quote_literal(spill_directory())}")
    con.execute(f"SET threads = {int(threads)}")
    if unsafe_test_crypto:
        con.execute("SET force_mbedtls_unsafe = true")
    con.execute(f"ATTACH {quote_literal(stage)} AS {STAGE_ALIAS} (READ_ONLY)")
    register_hmac(con, mask_key)
    for table in (leakscan.TOKENS_TABLE, binding.FORM_CLASS_TABLE):
        name = table.rsplit(".", 1)[1]
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM {STAGE_ALIAS}.main.{name}")
    _STATE.update(ctx=ctx, con=con, uid=0)


def _run(job: build.Job) -> build.Built:
    ctx, con = _STATE["ctx"], _STATE["con"]
    assert isinstance(ctx, build.Context) and isinstance(con, duckdb.DuckDBPyConnection)
    _STATE["uid"] = uid = int(_STATE["uid"]) + 1  # type: ignore[call-overload]
    return build.build(con, ctx, job, uid)


def run_jobs(ctx: build.Context, jobs: Iterable[build.Job], workers: int, stage: Path, mask_key: bytes,
             memory_limit: str, unsafe_test_crypto: bool = False,
             done: Callable[[build.Built], None] | None = None) -> list[build.Built]:  # fmt: skip
    """Every job's result, in `index` order. The largest products start first, so that no worker is left
    with the city product at the end. The first failure cancels what has not started and is raised."""
    todo = sorted(jobs, key=lambda j: (-j.weight, j.index))
    threads = max(1, default_workers() // workers)
    level = logging.getLogger("assets").getEffectiveLevel()
    spawn = multiprocessing.get_context("spawn")
    results: list[build.Built] = []
    with ProcessPoolExecutor(workers, mp_context=spawn, initializer=_init_worker,
                             initargs=(ctx, str(stage), mask_key, split_limit(memory_limit, workers), threads,
                                       unsafe_test_crypto, level)) as pool:  # fmt: skip
        futures = [pool.submit(_run, j) for j in todo]
        for f in as_completed(futures):
            exc = f.exception()
            if exc is not None:
                for other in futures:
                    other.cancel()
                raise exc
            results.append(f.result())
            if done is not None:
                done(results[-1])
    return sorted(results, key=lambda b: b.index)
