"""Materialize the whole code location on a tiny generated landing zone, twice, and look at the tables."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines import runner
from tests.worlds import TinyWorld, table_counts


@pytest.fixture(scope="module")
def warehouse(tiny_world: TinyWorld) -> Path:
    """The shared tiny world (tests/worlds.py: generated, then materialized twice), run a third time."""
    # materializing again must change nothing … except what the return flow (issue 13) learns once from the
    # first run's returns: corrections and new residents as person evidence, removals, and the next prefill
    # built from them; a third run changes nothing
    first, second = tiny_world.first_tables, tiny_world.second_tables
    loop = ("reflow.", "core.person", "staging.person_rows", "marts.burden_observed")
    assert {t: n for t, n in second.items() if not t.startswith(loop)} == {
        t: n for t, n in first.items() if not t.startswith(loop)}  # fmt: skip
    mp = pytest.MonkeyPatch()
    mp.delenv("DAGSTER_HOME", raising=False)  # an ephemeral instance: tests never touch .dagster_home
    with tiny_world.mutable() as world:
        runner.run_all(world.warehouse, world.landing)
        assert table_counts(world.warehouse) == second
    mp.undo()
    return tiny_world.warehouse  # restored: the second night's state, which the third run left as it was


def query(path: Path, sql: str) -> pl.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


def test_every_row_is_accounted_for_per_file(warehouse: Path) -> None:
    from assets.ingest.pipeline import file_accounting

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        accounting = file_accounting(con)
    finally:
        con.close()
    assert accounting.height > 0
    assert accounting.filter(pl.col("unaccounted") != 0).height == 0
    assert accounting["staged"].sum() > 0


def test_ground_truth_rows_are_staged_or_quarantined(warehouse: Path) -> None:
    truth = pl.read_parquet(warehouse.parent / "ground_truth.parquet")
    found = query(
        warehouse,
        "SELECT source_file, row_number FROM staging.form_records UNION ALL "
        "SELECT source_file, row_number FROM quarantine.rows",
    )
    current = query(warehouse, "SELECT source_file FROM raw.landing_files WHERE status = 'ingested'")
    expected = truth.join(current, on="source_file").select("source_file", "row_number")
    missing = expected.join(found.with_columns(pl.col("row_number").cast(pl.Int64)),
                            on=["source_file", "row_number"], how="anti")  # fmt: skip
    assert missing.height == 0, missing.head()


def test_cleaning_results_are_in_the_staged_tables(warehouse: Path) -> None:
    records = query(warehouse, "SELECT * FROM staging.form_records")
    statuses = set(records["id_status"].unique())
    assert {"valid", "converted_15", "blank"} <= statuses
    valid = records.filter(pl.col("id_status").is_in(["valid", "converted_15"]))
    assert valid["id_number"].str.contains(r"^\d{17}[\dX]$").all()
    assert records["committee_code"].str.contains(r"^31\d{10}$").all()
    assert records["person_name"].drop_nulls().str.contains(r"\s").sum() == 0  # inner spaces removed
    phones = query(
        warehouse, "SELECT value FROM staging.form_values WHERE field_type = 'phone' AND value_flag IS NULL"
    )
    assert phones["value"].str.contains(r"^(1[3-9]\d{9}|021\d{8})$").all()
    dates = query(
        warehouse, "SELECT value FROM staging.form_values WHERE field_type = 'date' AND value_flag IS NULL"
    )
    assert dates["value"].str.contains(r"^\d{4}-\d{2}-\d{2}$").all()


def test_quarantine_and_rejections_carry_reasons(warehouse: Path) -> None:
    quarantine = query(warehouse, "SELECT * FROM quarantine.rows")
    assert quarantine.height > 0
    assert (
        quarantine["reason_code"]
        .is_in(["no_identifier", "invalid_required_value", "unknown_committee"])
        .all()
    )
    assert all(f in m for f, m in zip(quarantine["source_file"], quarantine["message"], strict=True))
    rejected = query(warehouse, "SELECT * FROM quarantine.rejected_files")
    assert rejected.height > 0 and rejected["reason_code"].null_count() == 0


def test_return_flow_closes_the_loop(warehouse: Path) -> None:
    """reflow (issue 13): every committee gets its forms prefilled, returns are reconciled, evidence is learned."""
    missing = query(warehouse, "SELECT DISTINCT committee_code FROM staging.form_records WHERE committee_code NOT IN "
                               "(SELECT committee_code FROM reflow.prefill_files WHERE current)")  # fmt: skip
    assert missing.height == 0
    kinds = set(query(warehouse, "SELECT DISTINCT kind FROM reflow.returns")["kind"])
    assert "prefill_return" in kinds
    outcomes = set(query(warehouse, "SELECT DISTINCT outcome FROM reflow.return_rows")["outcome"])
    assert {"confirmed", "added", "removed"} <= outcomes
    assert (
        query(warehouse, "SELECT * FROM reflow.prefill_cells WHERE prefilled AND sharing = '不予共享'").height
        == 0
    )
    learned = query(warehouse, "SELECT * FROM core.person_records WHERE source_file LIKE '%回流%'")
    evidence = query(warehouse, "SELECT * FROM reflow.person_evidence")
    assert evidence.height > 0 and learned.height == evidence.height  # every evidence row is tied to a person
