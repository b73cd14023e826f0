"""Time the return-flow loop on a copy of a warehouse: build prefilled forms, simulate returns, reconcile.

    .venv/bin/python benchmarks/bench_reflow.py --warehouse warehouse/jianfu.duckdb

Works on a temporary copy (the warehouse is not changed); prints seconds per step and the counts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from assets.common import paths
from assets.reference.divisions import district_codes
from assets.reflow.build import build_prefills
from assets.reflow.observed import headline, write_observed
from assets.reflow.returns import reconcile_returns
from synth.generator.returns import simulate_returns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=paths.DEFAULT_WAREHOUSE)
    parser.add_argument(
        "--landing", type=Path, default=Path(os.environ.get("JIANFU_LANDING") or paths.SAMPLE_LANDING)
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "w.duckdb"
        shutil.copy(args.warehouse, copy)
        con = duckdb.connect(str(copy))
        for table in ("reflow.person_evidence", "reflow.roster_exits"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
        t = time.perf_counter()
        built = build_prefills(con, Path(tmp) / "prefill")
        t_build = time.perf_counter() - t
        t = time.perf_counter()
        sim = simulate_returns(Path(tmp) / "prefill", Path(tmp) / "returns")
        t_sim = time.perf_counter() - t
        t = time.perf_counter()
        files = reconcile_returns(con, Path(tmp) / "returns", district_codes(), args.landing)
        t_rec = time.perf_counter() - t
        t = time.perf_counter()
        write_observed(con)
        t_obs = time.perf_counter() - t
        print(f"build     {t_build:6.2f}s  {built.files:,} files, {built.rows:,} rows, {built.cells_prefilled:,} of "
              f"{built.cells:,} cells prefilled")  # fmt: skip
        print(f"simulate  {t_sim:6.2f}s  {sim.files:,} returned files {sim.by_kind}")
        print(f"reconcile {t_rec:6.2f}s  {files.height:,} files")
        print(f"observed  {t_obs:6.2f}s")
        print("\n".join(headline(con)))
        con.close()


if __name__ == "__main__":
    main()
