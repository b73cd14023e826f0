"""A GX suite validated a few Parquet files at a time gives the outcome of the whole table."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from assets.common.expectations import run_suite
from assets.ingest import suite_chunks
from assets.ingest.parquet_store import empty_frame

SUITE = "staging_form_values"
COLUMNS = ["district_code", "field_label", "field_type", "record_id", "value_flag"]


def _values(district: str, n: int, **bad: int) -> pl.DataFrame:
    """n valid value rows of `district`; `bad` plants defects: field_type=i makes row i's type unknown,
    record_id=i leaves row i without a record."""
    rows = [{"record_id": f"r{district}{i}", "field_label": "姓名", "field_type": "text", "value_flag": None,
             "district_code": district} for i in range(n)]  # fmt: skip
    if "field_type" in bad:
        rows[bad["field_type"]]["field_type"] = "no-such-type"  # planted: not in the field_types vocabulary
    if "record_id" in bad:
        rows[bad["record_id"]]["record_id"] = None  # planted: a value without its record
    empty = empty_frame("staging.form_values")  # every column of the table, as the store writes it
    return pl.concat(
        [empty, pl.DataFrame(rows, schema={c: empty.schema[c] for c in rows[0]})], how="diagonal"
    )


def test_chunked_outcome_equals_the_whole_table(tmp_path: Path) -> None:
    frames = [
        _values("310101", 40),
        _values("310104", 30, field_type=3),
        _values("310105", 20, record_id=0, field_type=5),
        _values("310106", 10),
    ]
    files = []
    for i, frame in enumerate(frames):
        files.append(tmp_path / f"{i}.parquet")
        frame.write_parquet(files[-1])
    groups = list(suite_chunks.file_groups(files, chunk_rows=50))
    assert [len(g) for g in groups] == [1, 2, 1]  # 40 | 30+20 | 10: several chunks, whole files each
    chunked, rows = suite_chunks.run_suite_chunked(
        suite_chunks.table_chunks("staging.form_values", files, COLUMNS, chunk_rows=50), SUITE
    )
    whole = run_suite(pl.concat(frames).select(COLUMNS), SUITE)
    assert rows == 100
    assert not chunked.success and not whole.success
    got = {(o.expectation, o.column): (o.success, o.unexpected_count, round(o.unexpected_percent, 6))
           for o in chunked.outcomes}  # fmt: skip
    want = {(o.expectation, o.column): (o.success, o.unexpected_count, round(o.unexpected_percent, 6))
            for o in whole.outcomes}  # fmt: skip
    assert got == want
    assert got[("expect_column_values_to_be_in_set", "field_type")][1] == 2
    assert got[("expect_column_values_to_not_be_null", "record_id")][1] == 1


def test_an_empty_table_still_reports_every_expectation() -> None:
    outcome, rows = suite_chunks.run_suite_chunked(
        suite_chunks.table_chunks("staging.form_values", [], COLUMNS), SUITE
    )
    assert rows == 0 and outcome.success and len(outcome.outcomes) == 5
