"""Resident resolution against a tiny warehouse: full run, nightly incremental run, checks, evaluation."""

from __future__ import annotations

import polars as pl
import pytest

from assets.common import warehouse
from assets.persons import resolve, validate
from assets.persons.rows import PERSON_ROW_COLUMNS, PERSON_ROWS
from synth.persons import generate_rows


@pytest.fixture(scope="module")
def rows():
    return generate_rows(1200, seed=5)


def test_full_then_incremental(tmp_path, rows):
    path = tmp_path / "wh.duckdb"
    month = rows["period"].str.slice(5, 2).cast(pl.Int32)
    early, all_rows = rows.filter(month <= 6), rows
    with warehouse.connect(path) as con:
        warehouse.replace_table(con, PERSON_ROWS, early.select(PERSON_ROW_COLUMNS))
        first = resolve.resolve_persons(con, run_id="night-1", env={"JIANFU_ENV": "dev"})
        assert first.mode == "full" and first.records == early.height
        ids1 = warehouse.read_frame(con, "SELECT record_id, person_id FROM core.person_records")

        warehouse.replace_table(con, PERSON_ROWS, all_rows.select(PERSON_ROW_COLUMNS))
        second = resolve.resolve_persons(con, run_id="night-2", env={"JIANFU_ENV": "dev"})
        assert second.mode == "incremental"
        assert second.new_records == all_rows.height - early.height
        ids2 = warehouse.read_frame(con, "SELECT record_id, person_id FROM core.person_records")
        kept = ids1.join(ids2, on="record_id", suffix="_2")
        # Old rows keep their person unless a new row merged two persons, or brought the first valid ID
        # number of a provisional person (promoted to its anchored id): both are on record.
        moved = kept.filter(pl.col("person_id") != pl.col("person_id_2"))
        merged = warehouse.read_frame(con, "SELECT person_id FROM core.person_id_history WHERE run_id = 'night-2' "
                                           "AND event IN ('merge', 'promote')")["person_id"].to_list()  # fmt: skip
        assert set(moved["person_id"].to_list()) <= set(merged)

        for validator in (validate.record_coverage, validate.person_consistency):
            failing, total = validator(con)
            assert failing.height == 0 and total > 0
        persons = warehouse.read_frame(con, "SELECT * FROM core.persons")
        assert persons["person_id"].str.starts_with("P").all()
        records = warehouse.read_frame(
            con, "SELECT * FROM core.person_records WHERE match_probability IS NOT NULL"
        )
        assert records["agreed_attributes"].list.len().min() >= 1  # why two rows were joined
        events = warehouse.read_frame(con, "SELECT DISTINCT run_id, event FROM core.person_id_history")
        assert ("night-1", "create") in events.rows()

        truth = tmp_path / "ground_truth.parquet"
        rows.select("source_file", "row_number", "person_id", "household_id").write_parquet(truth)
        metrics = resolve.evaluate_warehouse(con, truth)
        assert metrics["records"] == all_rows.height
        assert metrics["pairwise_f1"] > 0.95


def test_validators_catch_a_lost_record(tmp_path, rows):
    path = tmp_path / "wh.duckdb"
    with warehouse.connect(path) as con:
        warehouse.replace_table(con, PERSON_ROWS, rows.head(300).select(PERSON_ROW_COLUMNS))
        resolve.resolve_persons(con, run_id="r1", env={"JIANFU_ENV": "dev"})
        con.execute(
            "DELETE FROM core.person_records WHERE record_id = (SELECT min(record_id) FROM core.person_records)"
        )
        failing, _ = validate.record_coverage(con)
        assert failing["problem"].to_list() == ["no person"]
        failing, _ = validate.person_consistency(con)
        assert failing.height == 1
