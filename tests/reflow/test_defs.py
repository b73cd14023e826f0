"""Dagster wiring of reflow: partitioned assets, the monthly schedule, the landing sensor's returns request."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from assets.reflow import defs as reflow_defs
from pipelines.partitions import district_partitions


def test_prefilled_forms_and_returns_are_partitioned_by_district() -> None:
    for asset in (reflow_defs.prefilled_forms, reflow_defs.reconciled_returns):
        assert asset.partitions_def == district_partitions
        assert asset.backfill_policy == dg.BackfillPolicy.single_run()
    assert reflow_defs.burden_observed.partitions_def is None


def test_monthly_schedule_builds_every_district_on_the_first() -> None:
    schedule = reflow_defs.monthly_prefill_schedule
    assert schedule.cron_schedule == "30 0 1 * *" and schedule.execution_timezone == "Asia/Shanghai"
    requests = list(
        schedule(dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 12, 1, 0, 30)))
    )
    assert [r.partition_key for r in requests] == district_partitions.get_partition_keys()
    assert all(r.run_key.startswith("prefill:2026-12:") for r in requests)


def test_landing_sensor_also_reconciles_returns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.automation import landing_sensor
    from pipelines.definitions import build_defs

    defs = build_defs()

    monkeypatch.setenv("JIANFU_LANDING", str(tmp_path))
    (tmp_path / "310104" / "MZ01" / "2026-11").mkdir(parents=True)
    (tmp_path / "310104" / "MZ01" / "2026-11" / "310104002001_回流.xlsx").write_bytes(b"x")
    requests = landing_sensor(
        dg.build_sensor_context(
            repository_def=defs.get_repository_def(), resources={"landing": defs.resources["landing"]}
        )
    )
    jobs = sorted((r.job_name, r.partition_key) for r in requests if r.partition_key)
    assert jobs == [("ingest_districts", "310104"), ("reconcile_returns", "310104")]
