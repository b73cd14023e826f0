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


def test_columns_with_the_same_transforms_share_a_vocabulary_and_keep_their_own_rows(monkeypatch):
    # Two name columns (a name and a maiden name, with pinyin companions) and two address columns are
    # normalized over their joint distinct values; each must get back exactly what it would alone,
    # under its own feature names.
    from assets.matching import transforms
    from assets.matching.spec import Feature

    frame = pl.DataFrame(
        {
            "n1": ["張偉", "李四", None, "张 伟"],
            "n2": ["李四", "张伟", "王五", None],  # 张伟 appears in both columns, 王五 only here
            "a1": ["上海市黄浦区南京路1号", None, "南京路1号", "淮海路2号"],
            "a2": ["淮海路2号", "上海市淮海路2号", None, "上海市黄浦区南京路1号"],
        }
    )
    feats = {
        "name": Feature(column="n1", transform="name"),
        "maiden": Feature(column="n2", transform="name"),
        "home": Feature(column="a1", transform="address", strip_prefixes=("上海市",)),
        "work": Feature(column="a2", transform="address", strip_prefixes=("上海市",)),
    }
    pinyin = {"name", "maiden"}
    alone = pl.concat(
        [transforms.record_features(frame, {n: f}, pinyin & {n}) for n, f in feats.items()],
        how="horizontal",
    )
    sizes: list[int] = []
    real = transforms.distinct_codes
    monkeypatch.setattr(transforms, "distinct_codes", lambda v: (sizes.append(len(v)), real(v))[1])
    together = transforms.record_features(frame, feats, pinyin)
    assert sorted(sizes) == [8, 8]  # one vocabulary for the two name columns, one for the two addresses
    assert together.columns == alone.columns  # companions renamed per column, columns in spec order
    assert together.equals(alone)
    assert together["maiden__py"].to_list() == ["lisi", "zhangwei", "wangwu", None]
    # A counted feature (term frequency) keeps its own column's counts, so it is not shared.
    sizes.clear()
    counted = transforms.record_features(frame, feats, pinyin, {"name"})
    assert sorted(sizes) == [4, 4, 8]
    assert counted["name__freq"].to_list() == [2.0, 1.0, None, 2.0]
    assert counted.drop("name__freq").equals(together)


def test_record_ids_in_any_order_rank_alike(resident_spec):
    # Planted: the input is not sorted by record id; __rid must still be the rank of the id.
    frame = records([{"record_id": r, "person_name": "李四"} for r in ["c", "a", "d", "b"]])
    con = _load(resident_spec, frame)
    got = dict(con.execute("SELECT record_id, __rid FROM __rec").fetchall())
    assert got == {"a": 0, "b": 1, "c": 2, "d": 3}


def test_pattern_table_equals_unique():
    import numpy as np

    from assets.matching.pairs import _patterns

    rng = np.random.default_rng(3)
    for code in (rng.integers(0, 3000, 10_000), np.array([5, 5, 0]), np.array([2**40, 7, 2**40])):
        got = _patterns(code.astype(np.int64))
        want = np.unique(code.astype(np.int64), return_inverse=True, return_counts=True)
        assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))
