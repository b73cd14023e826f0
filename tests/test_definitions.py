"""The code location loads, and every asset follows the house conventions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory) -> dg.Definitions:
    mp = pytest.MonkeyPatch()
    mp.setenv("JIANFU_WAREHOUSE", str(tmp_path_factory.mktemp("w") / "jianfu.duckdb"))
    mp.setenv("JIANFU_LANDING", str(ROOT / "data" / "sample" / "landing"))
    from pipelines.definitions import build_defs

    loaded = build_defs()
    dg.Definitions.validate_loadable(loaded)
    yield loaded
    mp.undo()


def test_every_asset_is_documented_owned_grouped_and_lowercase(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert all(part == part.lower() for part in key.path), key
        assert len(key.path) == 2, f"{key} should be [schema, table]"
        assert node.description, f"{key} has no description"
        assert node.owners, f"{key} has no owner"
        assert node.group_name and node.group_name != "default", f"{key} has no group"
        assert node.kinds, f"{key} has no kinds"


def test_jobs_schedule_and_sensor_are_defined(defs: dg.Definitions) -> None:
    assert {j.name for j in defs.jobs} >= {"ingest_districts", "load_catalog", "refresh_downstream"}
    assert [s.name for s in defs.schedules] == [
        "nightly_ingest_schedule",
        "monthly_prefill_schedule",
    ]  # + reflow
    assert [s.name for s in defs.sensors] == ["landing_sensor", "nightly_automation"]


def test_dagster_cli_validates_the_definitions(tmp_path: Path) -> None:
    env = {"JIANFU_WAREHOUSE": str(tmp_path / "w.duckdb"), "JIANFU_LANDING": str(tmp_path), "PATH": ""}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-m", "pipelines.definitions"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_landing_sensor_requests_changed_districts_only(
    defs: dg.Definitions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.automation import landing_sensor

    monkeypatch.setenv("JIANFU_LANDING", str(tmp_path))
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "forms.csv").write_text("x")
    (tmp_path / "310101" / "MZ01" / "2026-10").mkdir(parents=True)
    (tmp_path / "310101" / "MZ01" / "2026-10" / "310101002001_a.csv").write_text("a")

    repo = defs.get_repository_def()
    first = landing_sensor(
        dg.build_sensor_context(repository_def=repo, resources={"landing": defs.resources["landing"]})
    )
    keys = sorted((r.partition_key or r.job_name) for r in first)
    assert keys == [
        "310101",
        "310101",
        "load_catalog",
    ]  # a new district folder (ingest + reflow returns), catalog

    cursor = landing_sensor.evaluate_tick(
        dg.build_sensor_context(repository_def=repo, resources={"landing": defs.resources["landing"]})
    ).cursor
    quiet = landing_sensor(
        dg.build_sensor_context(
            cursor=cursor, repository_def=repo, resources={"landing": defs.resources["landing"]}
        )
    )
    assert isinstance(quiet, dg.SkipReason)  # nothing changed since

    (tmp_path / "310104" / "MZ01" / "2026-10").mkdir(parents=True)  # a second district delivers
    (tmp_path / "310104" / "MZ01" / "2026-10" / "310104002001_a.csv").write_text("b")
    after = landing_sensor(
        dg.build_sensor_context(
            cursor=cursor, repository_def=repo, resources={"landing": defs.resources["landing"]}
        )
    )
    assert [r.partition_key for r in after] == ["310104", "310104"]  # ingest + reflow returns


def test_nightly_schedule_requests_every_district(defs: dg.Definitions) -> None:
    from assets.common.resources import LandingResource
    from pipelines.automation import nightly_ingest_schedule
    from pipelines.partitions import district_partitions

    context = dg.build_schedule_context(
        scheduled_execution_time=__import__("datetime").datetime(2026, 11, 26, 1, 30),
        resources={"landing": LandingResource()},
    )  # the bundled sample
    requests = list(nightly_ingest_schedule(context))
    assert [r.partition_key for r in requests] == district_partitions.get_partition_keys()
    assert len({r.run_key for r in requests}) == 16


def test_dg_check_defs_passes(tmp_path: Path) -> None:
    """The repository is a `dg` project: `dg check defs` loads the code location as Dagster's tooling does."""
    env = {
        **os.environ,
        "JIANFU_WAREHOUSE": str(tmp_path / "jianfu.duckdb"),
        "JIANFU_LANDING": str(ROOT / "data" / "sample" / "landing"),
        "DAGSTER_HOME": str(tmp_path),
    }
    dg_bin = Path(sys.executable).with_name("dg")
    done = subprocess.run([str(dg_bin), "check", "defs"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All definitions loaded successfully" in done.stdout + done.stderr


def test_every_domain_is_loaded_from_the_defs_folder(defs: dg.Definitions) -> None:
    """A domain with an assets/<domain>/defs.py that has no module in pipelines/defs/ would silently vanish from
    the code location: each one is there, and every asset it declares is loaded."""
    import importlib

    domains = sorted(p.parent.name for p in (ROOT / "assets").glob("*/defs.py"))
    in_folder = sorted(p.stem for p in (ROOT / "pipelines" / "defs").glob("*.py") if p.stem != "__init__")
    assert set(domains) <= set(in_folder), (
        f"add pipelines/defs/<domain>.py for {set(domains) - set(in_folder)}"
    )
    loaded = defs.resolve_asset_graph().get_all_asset_keys()
    for domain in domains:
        declared = importlib.import_module(f"assets.{domain}.defs").defs
        assert {k for a in declared.assets or [] for k in a.keys} <= loaded, domain


def test_importing_the_entry_point_loads_nothing() -> None:
    """`pipelines.definitions` builds the code location only when a Dagster tool asks: importing it reads no
    file or variable and imports no domain."""
    code = (
        "import sys, pipelines.definitions; print(sorted(m for m in sys.modules if m.startswith('assets')))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
