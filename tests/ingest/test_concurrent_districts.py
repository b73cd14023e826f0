"""Proof for the shared storage (docs/storage.md): four district runs at once on the multiprocess executor.

Four `dagster job execute` processes start together, each running the `ingest_districts` job (multiprocess
executor: every step in a process of its own) for one district of the bundled sample, against one Dagster
instance in a temporary DAGSTER_HOME with the house pool limits. No step may fail on DuckDB's lock, the
district steps must overlap in time, and every ingestion table must equal a serial in-process run's
(EXCEPT ALL both ways; the run id and the time of ingestion are the only columns allowed to differ).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.ingest.parquet_store import TABLES

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "landing"
DISTRICTS = ["310105", "310106", "310114", "310118"]  # the four smallest of the sample: ~400 files
PER_RUN = ("run_id", "ingested_at")  # differ between any two runs by design


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("zone") / "landing"
    for name in ("catalog", *DISTRICTS):
        shutil.copytree(SAMPLE / name, root / name)
    return root


def _materialize(
    selection: dg.AssetSelection, instance: dg.DagsterInstance, partition: str | None = None
) -> None:
    from pipelines.definitions import build_defs

    defs = build_defs()

    result = dg.materialize(
        [*(defs.assets or []), *(defs.asset_checks or [])],
        selection=selection,
        instance=instance,
        resources=defs.resources,
        partition_key=partition,
    )
    assert result.success


@pytest.fixture(scope="module")
def serial(landing: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four districts one after another, in process."""
    from pipelines.automation import CATALOG_SELECTION, INGEST_SELECTION

    warehouse = tmp_path_factory.mktemp("serial") / "jianfu.duckdb"
    mp = pytest.MonkeyPatch()
    mp.setenv("JIANFU_WAREHOUSE", str(warehouse))
    mp.setenv("JIANFU_LANDING", str(landing))
    instance = dg.DagsterInstance.ephemeral()
    _materialize(CATALOG_SELECTION, instance)
    for district in DISTRICTS:
        _materialize(INGEST_SELECTION.without_checks(), instance, district)
    mp.undo()
    return warehouse


def test_four_districts_at_once_on_the_multiprocess_executor_equal_a_serial_run(
    landing: Path, serial: Path, tmp_path: Path
) -> None:
    from pipelines.automation import CATALOG_SELECTION

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(
        ROOT / ".dagster_home" / "dagster.yaml", home / "dagster.yaml"
    )  # pool limit 1, as in `make run`
    warehouse = tmp_path / "concurrent" / "jianfu.duckdb"
    env = {**os.environ, "DAGSTER_HOME": str(home), "JIANFU_WAREHOUSE": str(warehouse),
           "JIANFU_LANDING": str(landing)}  # fmt: skip
    mp = pytest.MonkeyPatch()
    for key in ("DAGSTER_HOME", "JIANFU_WAREHOUSE", "JIANFU_LANDING"):
        mp.setenv(key, env[key])
    with dg.DagsterInstance.get() as instance:
        _materialize(CATALOG_SELECTION, instance)
    mp.undo()

    dagster = str(Path(sys.executable).parent / "dagster")
    procs = [
        subprocess.Popen(
            [
                dagster,
                "job",
                "execute",
                "-m",
                "pipelines.definitions",
                "-j",
                "ingest_districts",
                "--tags",
                json.dumps({"dagster/partition": district}),
                "-o",
                "district_files,ingest_views",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for district in DISTRICTS
    ]
    outputs = [p.communicate(timeout=540)[0] for p in procs]
    for district, proc, out in zip(DISTRICTS, procs, outputs, strict=True):
        assert proc.returncode == 0, f"{district}:\n{out[-4000:]}"
        assert "Could not set lock" not in out, out[-4000:]

    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = [r for r in instance.get_runs() if r.job_name == "ingest_districts"]
        assert sorted(r.tags["dagster/partition"] for r in runs) == DISTRICTS
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        spans, pids = [], set()
        for run in runs:
            events = {e.dagster_event.event_type_value: e for e in instance.all_logs(run.run_id)
                      if e.dagster_event and e.dagster_event.step_key == "district_files"}  # fmt: skip
            spans.append((events["STEP_START"].timestamp, events["STEP_SUCCESS"].timestamp))
            pids.add(events["STEP_START"].dagster_event.pid)
    assert len(pids) == 4  # each district step in a process of its own
    assert {p.pid for p in procs}.isdisjoint(pids)  # ... not the run's own process: the multiprocess executor
    overlapping = sum(1 for i, a in enumerate(spans) for b in spans[i + 1 :] if a[0] < b[1] and b[0] < a[1])
    assert overlapping >= 1, f"the district steps did not overlap: {spans}"

    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{serial}' AS s (READ_ONLY)")
        con.execute(f"ATTACH '{warehouse}' AS c (READ_ONLY)")
        for table, columns in TABLES.items():
            cols = ", ".join(c for c, _ in columns if c not in PER_RUN)
            counts = [con.execute(f"SELECT count(*) FROM {db}.{table}").fetchall()[0][0] for db in ("s", "c")]
            assert counts[0] == counts[1], (table, counts)
            for a, b in (("s", "c"), ("c", "s")):
                extra = con.execute(
                    f"SELECT count(*) FROM (SELECT {cols} FROM {a}.{table} EXCEPT ALL SELECT {cols} FROM {b}.{table})"
                ).fetchall()[0][0]
                assert extra == 0, f"{table}: {extra} rows of {a} not in {b}"
        districts = {
            d for (d,) in con.execute("SELECT DISTINCT district_code FROM c.raw.landing_files").fetchall()
        }
        assert districts == set(DISTRICTS)
        assert con.execute("SELECT count(*) FROM c.staging.form_values").fetchall()[0][0] > 1000
    finally:
        con.close()
