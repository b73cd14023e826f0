"""Ingestion and the downstream stage (forms + persons) of a full rebuild, with the time of every step.

    JIANFU_ENV=dev /usr/bin/time -v .venv/bin/python benchmarks/bench_downstream.py \
        --landing /tmp/bn400/landing --out /tmp/downfast/run [--stages catalog,ingest,downstream]

Runs the first three stages of `jianfu run` (pipelines/runner.py) on a fresh warehouse under --out, in one
process as the runner does, with the same selections, and prints for each stage its wall time, the process's
peak RSS by its end, and the slowest Dagster steps (from the run's step events). Run it under
`/usr/bin/time -v` for the CPU seconds of the pool workers too. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import time
from pathlib import Path


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def step_seconds(result) -> list[tuple[str, float]]:
    """(step key, seconds) of every successful step of a finished run, slowest first."""
    spans = [
        (event.step_key, event.event_specific_data.duration_ms / 1000)
        for event in result.all_events
        if event.event_type_value == "STEP_SUCCESS"
    ]
    return sorted(spans, key=lambda s: -s[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument(
        "--out", type=Path, required=True, help="folder of the fresh warehouse (emptied first)"
    )
    parser.add_argument("--stages", default="catalog,ingest,downstream")
    args = parser.parse_args()
    stages = args.stages.split(",")
    warehouse = args.out / "warehouse" / "jianfu.duckdb"
    if "catalog" in stages:
        shutil.rmtree(args.out / "warehouse", ignore_errors=True)
    os.environ["JIANFU_WAREHOUSE"] = str(warehouse)
    os.environ["JIANFU_LANDING"] = str(args.landing)

    import dagster as dg

    from pipelines.automation import CATALOG_SELECTION, INGEST_SELECTION, REFLOW_SELECTION
    from pipelines.definitions import build_defs
    from pipelines.partitions import district_partitions

    defs = build_defs()
    instance = dg.DagsterInstance.ephemeral()
    keys = district_partitions.get_partition_keys()
    truth = args.landing.parent / "ground_truth.parquet"
    downstream = (
        dg.AssetSelection.all()
        - INGEST_SELECTION
        - CATALOG_SELECTION
        - dg.AssetSelection.groups("publishing")
        - REFLOW_SELECTION
    )
    plan = {
        "catalog": (CATALOG_SELECTION, {}, {}),
        "ingest": (
            INGEST_SELECTION,
            {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]},
            {},
        ),
        "downstream": (
            downstream,
            {},
            {"ops": {"persons": {"config": {"ground_truth_path": str(truth)}}}} if truth.exists() else {},
        ),
    }
    for name in stages:
        selection, tags, run_config = plan[name]
        t0 = time.perf_counter()
        result = dg.materialize(
            [*(defs.assets or []), *(defs.asset_checks or [])],
            selection=selection,
            instance=instance,
            resources=defs.resources,
            tags=tags,
            run_config={**run_config, "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            raise_on_error=True,
        )
        wall = time.perf_counter() - t0
        print(f"stage {name}: {wall:.1f}s, peak RSS {peak_mb():,.0f} MB (children {children_peak_mb():,.0f} MB), "
              f"load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
        for key, seconds in step_seconds(result)[:12]:
            print(f"    {seconds:7.1f}s  {key}")


if __name__ == "__main__":
    main()
