"""Opt-in: the pipeline against a real PostgreSQL run/event storage (deploy/dagster.postgres.yaml).

Skipped unless JIANFU_TEST_POSTGRES_URL is set, e.g.
    JIANFU_TEST_POSTGRES_URL=postgresql+psycopg2://jianfu:PASSWORD@localhost:5432/dagster \\
        .venv/bin/pytest tests/test_deploy_postgres.py -q
Needs the `deploy` extra (`uv sync --extra deploy`) and a database the user owns (docs/deploy.md).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

URL = os.environ.get("JIANFU_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not URL, reason="set JIANFU_TEST_POSTGRES_URL to test against PostgreSQL")
ROOT = Path(__file__).resolve().parents[1]


def test_runs_materializations_and_pool_limits_are_stored_in_postgres(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("dagster_postgres")
    import dagster as dg

    from pipelines import runner
    from synth.generator.cli import main as generate

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.postgres.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", URL or "")
    monkeypatch.setenv("DAGSTER_COMPUTE_LOG_DIR", str(tmp_path / "logs"))

    instance = dg.DagsterInstance.get()
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    instance.event_log_storage.set_concurrency_slots("warehouse", 1)  # `dagster instance concurrency set`
    assert instance.event_log_storage.get_concurrency_info("warehouse").slot_count == 1

    assert generate(["--preset", "tiny", "--out", str(tmp_path), "--quiet"]) in (0, None)
    before = {r.run_id for r in instance.get_runs()}
    runner.run_all(tmp_path / "jianfu.duckdb", tmp_path / "landing")
    new_runs = [r for r in instance.get_runs() if r.run_id not in before]
    assert len(new_runs) >= 4 and all(
        r.is_success for r in new_runs
    )  # catalog, ingestion, downstream, publish
    persons = instance.get_latest_materialization_event(dg.AssetKey(["core", "persons"]))
    assert persons is not None and persons.run_id in {r.run_id for r in new_runs}
    # a second night with nothing new launches no run, and says so on every asset
    runner.run_all(tmp_path / "jianfu.duckdb", tmp_path / "landing")
    assert {r.run_id for r in instance.get_runs()} - before == {r.run_id for r in new_runs}
