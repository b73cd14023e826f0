"""Features per distinct value, gathered back to the records: codes, frequencies and record-id checks."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from assets.matching.load import InputError, load_records
from assets.matching.transforms import distinct_codes
from tests.matching.conftest import records, valid_id


def test_distinct_codes_map_every_row_to_its_value():
    values = pl.Series(["b", None, "a", "b", None, "c", "a"])
    distinct, codes = distinct_codes(values)
    assert distinct.gather(codes).to_list() == values.to_list()  # nulls too
    assert distinct.n_unique() == len(distinct) == 4  # a, b, c, null: each once
    assert codes[0] == codes[3] and codes[1] == codes[4] and codes[2] == codes[6]


@pytest.mark.parametrize("repeat", [1, 20])  # many distinct values (rank path) / few (join path)
def test_distinct_codes_survive_a_hash_collision(monkeypatch, repeat):
    # Planted defect: every value hashes alike, as if 64-bit hashes collided; the string check must catch
    # it and take the exact path.
    monkeypatch.setattr(pl.Series, "hash", lambda self, seed=0: pl.Series([7] * len(self), dtype=pl.UInt64))
    values = pl.Series(["x", "y", "x", None] * repeat)
    distinct, codes = distinct_codes(values)
    assert distinct.gather(codes).to_list() == values.to_list()
    assert codes[0] == codes[2] != codes[1]


def _load(spec, frame: pl.DataFrame) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    load_records(con, spec, [frame], None, with_golden=False)
    return con


def test_name_frequency_counts_records_per_normalized_name(resident_spec):
    frame = records(
        [
            {"record_id": "1", "person_name": "張偉", "id_number": valid_id("31010119800101001")},
            {"record_id": "2", "person_name": "张伟"},  # the same name once simplified
            {"record_id": "3", "person_name": "张 伟"},  # and once the space is gone
            {"record_id": "4", "person_name": "欧阳明辉"},
            {"record_id": "5", "person_name": None},  # no name: no frequency
        ]
    )
    con = _load(resident_spec, frame)
    tf = [ci for ci, c in enumerate(resident_spec.comparisons) if c.term_frequency][0]
    got = dict(con.execute(f"SELECT record_id, __tf_{tf} FROM __rec").fetchall())
    assert got == {"1": 3.0, "2": 3.0, "3": 3.0, "4": 1.0, "5": None}
    # the features themselves were gathered back to the right rows
    names = dict(con.execute("SELECT record_id, name FROM __rec").fetchall())
    assert names == {"1": "张伟", "2": "张伟", "3": "张伟", "4": "欧阳明辉", "5": None}


def test_duplicate_record_ids_are_named(resident_spec):
    frame = records([{"record_id": r, "person_name": "李四"} for r in ["a", "b", "a", "c", "b"]])
    with pytest.raises(InputError, match=r"not unique, e\.g\. \['a', 'b'\]"):
        _load(resident_spec, frame)
