"""Time the return-flow loop on a copy of a warehouse: build prefilled forms, simulate returns, reconcile.

    .venv/bin/python benchmarks/bench_reflow.py --warehouse warehouse/jianfu.duckdb
    /usr/bin/time -v .venv/bin/python benchmarks/bench_reflow.py --warehouse /tmp/bn400/warehouse/jianfu.duckdb \\
        --landing /tmp/bn400/landing --work /tmp/reflow-bench --again

Works on a copy of the warehouse in `--work` (a temporary folder by default; the warehouse given is never
changed) and prints per step the wall time, the CPU seconds of this process and of its workers, and the peak
RSS so far of this process and of its largest worker. `--again` builds a second time with nothing changed
and counts the workbooks kept (bytes and mtime unchanged).
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from assets.common import paths
from assets.reference.divisions import district_codes
from assets.reflow.build import build_prefills
from assets.reflow.observed import headline, write_observed
from assets.reflow.pool import simulate_districts
from assets.reflow.returns import reconcile_returns


def _usage() -> tuple[float, float, int, int]:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return (
        me.ru_utime + me.ru_stime,
        kids.ru_utime + kids.ru_stime,
        me.ru_maxrss // 1024,
        kids.ru_maxrss // 1024,
    )


def timed(name: str, fn: Callable[[], object]) -> object:
    t, (c0, k0, _, _) = time.perf_counter(), _usage()
    result = fn()
    c1, k1, rss, kid_rss = _usage()
    print(f"{name:10s} wall {time.perf_counter() - t:7.1f}s  cpu {c1 - c0:6.1f}s + workers {k1 - k0:6.1f}s  "
          f"peak RSS {rss:,} MB (workers {kid_rss:,} MB)  load {os.getloadavg()[0]:.1f}  {result}", flush=True)  # fmt: skip
    return result


def reconcile_returns_timed(
    con: duckdb.DuckDBPyConnection, returns: Path, districts: list[str], landing: Path
):  # noqa: ANN201
    box: list = []
    timed(
        "reconcile",
        lambda: box.append(reconcile_returns(con, returns, districts, landing)) or f"{box[0].height:,} files",
    )
    return box[0]


def _mtimes(root: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in root.rglob("*.xlsx")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=paths.DEFAULT_WAREHOUSE)
    parser.add_argument(
        "--landing", type=Path, default=Path(os.environ.get("JIANFU_LANDING") or paths.SAMPLE_LANDING)
    )
    parser.add_argument(
        "--work", type=Path, help="folder for the copy, workbooks and returns (default: temporary)"
    )
    parser.add_argument("--districts", help="comma-separated district codes (default: every district)")
    parser.add_argument(
        "--workers", type=int, help="process pool size (default: JIANFU_REFLOW_WORKERS or CPUs)"
    )
    parser.add_argument("--again", action="store_true", help="build a second time: workbooks kept")
    parser.add_argument("-v", action="store_true", help="log each district")
    args = parser.parse_args()
    if args.workers is not None:
        os.environ["JIANFU_REFLOW_WORKERS"] = str(args.workers)
    logging.basicConfig(level=logging.INFO if args.v else logging.WARNING, format="%(asctime)s %(message)s")
    districts = args.districts.split(",") if args.districts else district_codes()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        shutil.rmtree(work / "prefill", ignore_errors=True)
        shutil.rmtree(work / "returns", ignore_errors=True)
        work.mkdir(parents=True, exist_ok=True)
        copy = work / "w.duckdb"
        shutil.copy(args.warehouse, copy)
        con = duckdb.connect(str(copy))
        con.execute("SET memory_limit = '6GB'")  # what warehouse.connect sets; reflow lowers it while it runs
        for table in ("reflow.person_evidence", "reflow.roster_exits", "ops.prefill_workbooks",
                      "ops.reconciled_returns"):  # fmt: skip
            con.execute(f"DROP TABLE IF EXISTS {table}")
        prefill, returns = work / "prefill", work / "returns"
        print(f"load average {os.getloadavg()[0]:.1f}, {len(districts)} districts, workers "
              f"{os.environ.get('JIANFU_REFLOW_WORKERS') or os.cpu_count()}", flush=True)  # fmt: skip
        built = timed("build", lambda: build_prefills(con, prefill, districts))
        if args.again:  # nothing changed since: every workbook is kept
            before = _mtimes(prefill)
            timed("again", lambda: build_prefills(con, prefill, districts))
            after = _mtimes(prefill)
            kept = sum(1 for p, m in before.items() if after.get(p) == m)
            print(f"           workbooks kept (mtime unchanged): {kept:,} of {len(before):,}")
        timed("simulate", lambda: simulate_districts(prefill, returns, 20261201, districts))
        files = reconcile_returns_timed(con, returns, districts, args.landing)
        print(
            f"           {files.height:,} returned files: "  # type: ignore[attr-defined]
            f"{dict(files.group_by('kind').len().iter_rows())}"
        )  # type: ignore[attr-defined]
        timed("observed", lambda: write_observed(con) and None)
        print(f"load average {os.getloadavg()[0]:.1f}; built {built}")
        print("\n".join(headline(con)))
        con.close()


if __name__ == "__main__":
    main()
