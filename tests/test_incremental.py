"""Nightly runs: fingerprints, the run plan, settings checked first, and a run that skips unchanged stages."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from assets.common import fingerprint as fp
from pipelines import incremental, preflight
from tests.worlds import TinyWorld


def test_folder_fingerprint_sees_added_rewritten_and_removed_files(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    f = tmp_path / "a" / "x.csv"
    f.write_text("1\n")
    first = fp.folder_fingerprint(tmp_path)
    assert fp.folder_fingerprint(tmp_path) == first  # stable
    f.write_text("1\n2\n")  # rewritten: size changes
    second = fp.folder_fingerprint(tmp_path)
    assert second != first
    (tmp_path / "a" / "y.csv").write_text("")  # added
    assert fp.folder_fingerprint(tmp_path) != second
    assert fp.folder_fingerprint(tmp_path / "missing") == fp.folder_fingerprint(tmp_path / "missing2")


def test_district_registry_changes_only_for_the_district_whose_files_changed() -> None:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    con.execute("CREATE TABLE raw.landing_files (file_id VARCHAR, district_code VARCHAR, status VARCHAR, "
                "ingest_version VARCHAR, reason_code VARCHAR)")  # fmt: skip
    con.execute("INSERT INTO raw.landing_files VALUES ('f1','310101','ingested','v1',NULL), "
                "('f2','310104','ingested','v1',NULL)")  # fmt: skip
    before = fp.district_registry(con)
    con.execute(
        "UPDATE raw.landing_files SET file_id = 'f1b' WHERE file_id = 'f1'"
    )  # re-delivered with new bytes
    after = fp.district_registry(con)
    assert after["310101"] != before["310101"]
    assert after["310104"] == before["310104"]
    con.execute(
        "UPDATE raw.landing_files SET ingest_version = 'v2' WHERE district_code = '310104'"
    )  # new parser
    assert fp.district_registry(con)["310104"] != after["310104"]


def test_reflow_fingerprint_changes_only_for_districts_whose_persons_or_records_changed(
    tmp_path: Path,
) -> None:
    con = duckdb.connect()
    for schema in ("core", "staging", "catalog"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute("CREATE TABLE catalog.forms AS SELECT 'F1' AS form_code, 'monthly' AS frequency")
    con.execute("CREATE TABLE catalog.form_fields AS SELECT 'F1' AS form_code, 1 AS field_order, '姓名' AS field_label, "
                "'text' AS field_type, 'person_name' AS element_code, 'mapped' AS status, 0.9 AS confidence")  # fmt: skip
    con.execute("CREATE TABLE core.persons (person_id VARCHAR, person_name VARCHAR, committee_code VARCHAR, "
                "run_id VARCHAR)")  # fmt: skip
    con.execute("INSERT INTO core.persons VALUES ('p1', '甲', '310101001001', 'run1'), "
                "('p2', '乙', '310104001001', 'run1'), ('p3', '丙', '310105001001', 'run1')")  # fmt: skip
    con.execute("CREATE TABLE core.person_records (record_id VARCHAR, person_id VARCHAR)")
    con.execute("INSERT INTO core.person_records VALUES ('r1', 'p1'), ('r2', 'p2'), ('r3', 'p3')")
    con.execute("CREATE TABLE staging.form_records (record_id VARCHAR, committee_code VARCHAR, form_code VARCHAR, "
                "period VARCHAR)")  # fmt: skip
    con.execute("INSERT INTO staging.form_records VALUES ('r1', '310101001001', 'F1', '2026-10'), "
                "('r2', '310104001001', 'F1', '2026-10'), ('r3', '310105001001', 'F1', '2026-10')")  # fmt: skip
    districts = ["310101", "310104", "310105", "310106"]

    def fps() -> dict[str, str]:
        return incremental.reflow_fingerprints(con, districts, tmp_path / "returns")

    first = fps()
    assert fps() == first and len(set(first.values())) == 4  # stable, and one per district
    con.execute("UPDATE core.persons SET run_id = 'run2'")  # planted: resolved again, same golden records
    assert fps() == first
    # planted: 310101 re-delivers its record (new file bytes = new record id)
    con.execute("UPDATE staging.form_records SET record_id = 'r1b' WHERE record_id = 'r1'")
    con.execute("UPDATE core.person_records SET record_id = 'r1b' WHERE record_id = 'r1'")
    second = fps()
    assert [d for d in districts if second[f"reflow:{d}"] != first[f"reflow:{d}"]] == ["310101"]
    # planted: p2 moves from 310104 to 310105: both rosters change (moved out / moved in), 310101 does not
    con.execute("UPDATE core.persons SET committee_code = '310105001001' WHERE person_id = 'p2'")
    third = fps()
    assert [d for d in districts if third[f"reflow:{d}"] != second[f"reflow:{d}"]] == ["310104", "310105"]
    # planted: a match confidence moved (tonight's value profiles): no district changes
    con.execute("UPDATE catalog.form_fields SET confidence = 0.8")
    assert fps() == third
    # planted: a return arrives in 310106's folder: only that district
    (tmp_path / "returns" / "310106").mkdir(parents=True)
    (tmp_path / "returns" / "310106" / "x_回流.xlsx").write_bytes(b"x")
    assert [d for d in districts if fps()[f"reflow:{d}"] != third[f"reflow:{d}"]] == ["310106"]


def test_a_redelivered_file_with_the_same_values_dirties_no_district(tmp_path: Path) -> None:
    """Records count by content (ops.record_digests), not by id: a re-delivered file is new record ids."""
    con = duckdb.connect()
    for schema in ("core", "staging", "catalog"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute("CREATE TABLE catalog.forms AS SELECT 'F1' AS form_code, 'monthly' AS frequency")
    con.execute("CREATE TABLE catalog.form_fields AS SELECT 'F1' AS form_code, 2 AS field_order, '电话' AS field_label, "
                "'phone' AS field_type, 'phone' AS element_code, 'mapped' AS status")  # fmt: skip
    con.execute(
        "CREATE TABLE core.persons (person_id VARCHAR, phone VARCHAR, committee_code VARCHAR, run_id VARCHAR)"
    )
    # p2 lives in 310104 but has a record in 310101's file (a leg C record of 310104)
    con.execute("INSERT INTO core.persons VALUES ('p1', '1', '310101001001', 'run1'), "
                "('p2', '2', '310104001001', 'run1'), ('p3', '3', '310105001001', 'run1')")  # fmt: skip
    con.execute("CREATE TABLE core.person_records (record_id VARCHAR, person_id VARCHAR)")
    con.execute("INSERT INTO core.person_records VALUES ('a#1', 'p1'), ('a#2', 'p2'), ('c#1', 'p3')")
    con.execute("CREATE TABLE staging.form_records (record_id VARCHAR, source_file VARCHAR, row_number INT, "
                "committee_code VARCHAR, form_code VARCHAR, period VARCHAR)")  # fmt: skip
    con.execute("INSERT INTO staging.form_records VALUES ('a#1', '310101/a.csv', 1, '310101001001', 'F1', '2026-10'), "
                "('a#2', '310101/a.csv', 2, '310101001001', 'F1', '2026-10'), "
                "('c#1', '310105/c.csv', 1, '310105001001', 'F1', '2026-10')")  # fmt: skip
    con.execute(
        "CREATE TABLE staging.form_values (record_id VARCHAR, field_order INT, value VARCHAR, value_raw VARCHAR)"
    )
    con.execute(
        "INSERT INTO staging.form_values VALUES ('a#1', 2, '1', '1'), ('a#2', 2, '2', '2'), ('c#1', 2, '3', '3')"
    )
    districts = ["310101", "310104", "310105"]

    def fps() -> dict[str, str]:
        incremental.update_record_digests(con)
        return incremental.reflow_fingerprints(con, districts, tmp_path / "returns")

    first = fps()
    # planted: 310101 re-delivers a.csv with new bytes and the same rows: every record id changes
    for table in ("staging.form_records", "staging.form_values", "core.person_records"):
        con.execute(f"UPDATE {table} SET record_id = replace(record_id, 'a#', 'a2#')")
    assert fps() == first
    assert con.sql("SELECT count(*) FROM ops.record_digests WHERE record_id LIKE 'a#%'").fetchall() == [(0,)]
    # planted: one value of p2's row in that file changed: 310101 (its committee's records) and 310104 (where
    # p2 lives, whose prefilled values come from it), not 310105
    con.execute("UPDATE staging.form_records SET record_id = 'a3#2' WHERE record_id = 'a2#2'")
    con.execute("UPDATE core.person_records SET record_id = 'a3#2' WHERE record_id = 'a2#2'")
    con.execute("UPDATE staging.form_values SET record_id = 'a3#2', value = '22', value_raw = '22' "
                "WHERE record_id = 'a2#2'")  # fmt: skip
    second = fps()
    assert [d for d in districts if second[f"reflow:{d}"] != first[f"reflow:{d}"]] == ["310101", "310104"]
    # planted: p1 and p3 swap phones (DuckDB's multi-argument hash would let the swap cancel out in a bit_xor)
    con.execute("UPDATE core.persons SET committee_code = '310101001002' WHERE person_id = 'p3'")
    moved = fps()
    con.execute("UPDATE core.persons SET phone = CASE person_id WHEN 'p1' THEN '3' WHEN 'p3' THEN '1' "
                "ELSE phone END")  # fmt: skip
    assert fps()["reflow:310101"] != moved["reflow:310101"]


def test_the_reflow_legs_are_kept_until_what_they_read_was_written_again() -> None:
    con = duckdb.connect()
    fp.record(con, {"asset:core/persons": "x"}, run_id="run1")
    key = incremental.legs_key(con, "downstream-1")
    assert incremental.stored_legs(con, key) is None
    legs = {"shared": "s", "per": {"310101": "1:2"}}
    fp.record(con, {incremental.LEGS_STAGE: key}, parts={incremental.LEGS_STAGE: legs})
    assert incremental.stored_legs(con, incremental.legs_key(con, "downstream-1")) == legs
    assert incremental.stored_legs(con, incremental.legs_key(con, "downstream-2")) is None  # new inputs
    fp.record(con, {"written:reflow.returns": "y"}, run_id="run2")  # returns reconciled again (any run)
    assert incremental.stored_legs(con, incremental.legs_key(con, "downstream-1")) is None


def test_recorded_fingerprints_round_trip_and_can_be_forgotten() -> None:
    con = duckdb.connect()
    assert fp.stored(con) == {}
    fp.record(con, {"catalog": "a", "downstream": "b"})
    fp.record(con, {"downstream": "c"})  # upsert
    assert fp.stored(con) == {"catalog": "a", "downstream": "c"}
    fp.forget(con, ["catalog"])
    assert fp.stored(con) == {"downstream": "c"}


def test_plan_runs_a_stage_when_inputs_changed_outputs_missing_or_never_recorded() -> None:
    plan = incremental.Plan(
        stored={"same": "x", "moved": "x"}, current={"same": "x", "moved": "y", "new": "z"}
    )
    assert not plan.must_run("same", outputs_present=True)
    assert plan.reasons["same"] == "unchanged"
    assert plan.must_run("same", outputs_present=False)  # a dropped table is rebuilt
    assert plan.must_run("same", outputs_present=True, full_refresh=True)
    assert plan.must_run("moved", outputs_present=True) and plan.reasons["moved"] == "inputs changed"
    assert plan.must_run("new", outputs_present=True) and plan.reasons["new"] == "never recorded"


def test_contiguous_ranges_group_neighbouring_partitions() -> None:
    keys = ["a", "b", "c", "d", "e"]
    assert incremental.contiguous_ranges(["b", "c", "e"], keys) == [("b", "c"), ("e", "e")]
    assert incremental.contiguous_ranges([], keys) == []
    assert incremental.contiguous_ranges(keys, keys) == [("a", "e")]


# strong, distinct secrets (weak or repeated-character keys are refused: docs/access.md)
SALT_A = "5f1c0e9a7b3d4c2e8f6a1b0c9d8e7f6a"
SALT_B = "a9d3e7c1b5f2048e6d1c3b7a9f0e2d4c"
MASK_KEY = "3c8e1f7a9b2d4e6f0a1c3e5b7d9f2a4c6e8b0d1f3a5c7e9b"
AUDIT_KEY = "e4b7a1d9c3f6082b5e7d1a4c9f3b6e0d2a8c5f1b7e3d9a6c"


def test_missing_secrets_fail_before_any_work_naming_what_to_set(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    (landing / "catalog").mkdir(parents=True)
    warehouse = tmp_path / "w" / "jianfu.duckdb"
    with pytest.raises(preflight.SettingsError) as err:
        preflight.check(warehouse, landing, env={})  # neither JIANFU_ENV=dev nor the secrets
    message = str(err.value)
    assert "JIANFU_PERSON_ID_SALT" in message and "JIANFU_MASK_KEY" in message
    assert not warehouse.parent.exists()  # nothing was written
    ok = preflight.check(
        warehouse,
        landing,
        env={"JIANFU_PERSON_ID_SALT": SALT_A, "JIANFU_MASK_KEY": MASK_KEY, "JIANFU_AUDIT_KEY": AUDIT_KEY},
    )
    other = preflight.check(
        warehouse,
        landing,
        env={"JIANFU_PERSON_ID_SALT": SALT_B, "JIANFU_MASK_KEY": MASK_KEY, "JIANFU_AUDIT_KEY": AUDIT_KEY},
    )
    assert ok.person_id_salt != other.person_id_salt and ok.mask_key == other.mask_key
    assert SALT_A not in repr(ok)  # only keyed digests leave the check


def test_runner_refuses_to_start_without_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines import runner

    for name in ("JIANFU_ENV", "JIANFU_PERSON_ID_SALT", "JIANFU_MASK_KEY", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    landing = tmp_path / "landing"
    (landing / "catalog").mkdir(parents=True)
    warehouse = tmp_path / "jianfu.duckdb"
    with pytest.raises(SystemExit, match="JIANFU_PERSON_ID_SALT"):
        runner.run_all(warehouse, landing)
    assert not warehouse.exists()


def test_a_second_night_skips_unchanged_stages_and_a_redelivery_reingests_one_district(
    tiny_world: TinyWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    first = tiny_world.first  # the shared tiny world's first night (tests/worlds.py)
    assert {"reference + catalog", "downstream", "publishing"} <= set(first)
    # the generated landing zone simulates returns of the prefilled forms (issue 13): the next night learns
    # from them once (their evidence is an input of the person layer), the night after has nothing to do
    learning = tiny_world.learning
    assert not any(k.startswith("ingestion") for k in learning) and "reference + catalog" not in learning
    with tiny_world.mutable() as world:  # this test runs again and changes the landing zone: restored after
        _third_night_reingests_one_district(world.landing, world.warehouse)


def _third_night_reingests_one_district(landing: Path, warehouse: Path) -> None:
    from pipelines import runner

    second = runner.run_all(warehouse, landing)
    assert set(second) == {
        "fingerprints (landing)",
        "fingerprints (warehouse)",
        "fingerprints (reflow)",
    }  # nothing else ran

    district = sorted(p.name for p in landing.iterdir() if p.name.isdigit())[0]
    csv = sorted((landing / district).rglob("*.csv"))[0]
    csv.write_bytes(csv.read_bytes() + b"\n")  # re-delivered: new bytes, same rows
    con = duckdb.connect(str(warehouse), read_only=True)
    runs_before = dict(
        con.execute("SELECT district_code, max(run_id) FROM raw.landing_files GROUP BY 1").fetchall()
    )
    con.close()
    third = runner.run_all(warehouse, landing)
    assert any(k.startswith("ingestion (1 of") for k in third) and "downstream" in third
    con = duckdb.connect(str(warehouse), read_only=True)
    runs_after = dict(
        con.execute("SELECT district_code, max(run_id) FROM raw.landing_files GROUP BY 1").fetchall()
    )
    con.close()
    others = [d for d in runs_before if d != district]
    assert others and all(runs_after[d] == runs_before[d] for d in others)  # other districts not touched


def test_dagster_runs_of_the_downstream_assets_skip_when_their_inputs_did_not_change(
    tiny_world: TinyWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    # the shared tiny world after two nights (the second learns once from the simulated returns)
    with tiny_world.mutable() as world:  # the run opens the warehouse for writing: restored after
        monkeypatch.setenv("JIANFU_WAREHOUSE", str(world.warehouse))
        monkeypatch.setenv("JIANFU_LANDING", str(world.landing))
        _downstream_runs_skip()


def _downstream_runs_skip() -> None:
    import dagster as dg

    from pipelines.automation import refresh_job
    from pipelines.definitions import build_defs

    defs = build_defs()

    gated = dg.AssetSelection.groups("forms", "persons")
    result = dg.materialize([*defs.assets, *defs.asset_checks], selection=gated, resources=defs.resources)  # type: ignore[list-item]
    assert result.success and refresh_job.name
    materialized = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]  # type: ignore[union-attr]
    assert len(materialized) >= 10
    assert all("skipped" in m.metadata for m in materialized), [
        m.asset_key for m in materialized if "skipped" not in m.metadata
    ]


def test_nightly_schedule_repeats_a_run_key_until_the_district_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime

    import dagster as dg

    from assets.common.resources import LandingResource
    from pipelines.automation import nightly_ingest_schedule

    monkeypatch.setenv("JIANFU_LANDING", str(tmp_path))
    (tmp_path / "catalog").mkdir()
    (tmp_path / "310101" / "MZ01" / "2026-10").mkdir(parents=True)
    delivered = tmp_path / "310101" / "MZ01" / "2026-10" / "310101002001_a.csv"
    delivered.write_text("a")

    def keys(day: int) -> dict[str, str]:
        context = dg.build_schedule_context(
            scheduled_execution_time=datetime.datetime(2026, 11, day, 1, 30),
            resources={"landing": LandingResource(root=str(tmp_path))},
        )
        return {r.partition_key: r.run_key for r in nightly_ingest_schedule(context)}  # type: ignore[union-attr]

    first, second = keys(26), keys(27)
    assert first == second  # Dagster launches a run key once: no run on a night without deliveries
    delivered.write_text("a, corrected")
    third = keys(28)
    assert third["310101"] != first["310101"]
    assert {d: k for d, k in third.items() if d != "310101"} == {
        d: k for d, k in first.items() if d != "310101"
    }


def test_landing_observation_gives_each_district_its_folder_fingerprint_as_data_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster as dg
    from dagster._core.definitions.observe import observe

    from assets.common.resources import LandingResource
    from pipelines.versions import landing_districts

    monkeypatch.setenv("JIANFU_LANDING", str(tmp_path))
    (tmp_path / "310101" / "MZ01" / "2026-10").mkdir(parents=True)
    (tmp_path / "310101" / "MZ01" / "2026-10" / "310101002001_a.csv").write_text("a")
    result = observe(
        [landing_districts],
        instance=dg.DagsterInstance.ephemeral(),
        resources={"landing": LandingResource(root=str(tmp_path))},
    )
    versions = {
        e.event_specific_data.asset_observation.partition: e.event_specific_data.asset_observation.tags[  # type: ignore[union-attr]
            "dagster/data_version"
        ]
        for e in result.all_events
        if e.event_type_value == "ASSET_OBSERVATION"
    }
    assert len(versions) == 16
    assert versions["310101"] == fp.folder_fingerprint(tmp_path / "310101")
    assert versions["310104"] == fp.folder_fingerprint(tmp_path / "310104")  # no folder yet: the empty digest
    assert versions["310101"] != versions["310104"]
