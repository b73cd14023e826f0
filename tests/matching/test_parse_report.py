"""Load counts, per column, the raw values a transform could not read, and --explain prints them."""

from __future__ import annotations

import polars as pl

from assets.matching import MatchEngine
from assets.matching.spec import MatchSpec


def test_unread_values_are_counted_per_column_and_explained():
    spec = MatchSpec.model_validate(
        {
            "entity": "person",
            "record_id": "rid",
            "features": {
                "id": {"column": "id_number", "transform": "id_number"},
                "dob": {"column": "birth", "transform": "date"},
            },
            "blocking": [{"name": "id", "keys": ["id"]}],
            "comparisons": [
                {"name": "id", "feature": "id", "levels": [{"kind": "exact"}, {"kind": "else"}]},
                {"name": "dob", "feature": "dob", "levels": [{"kind": "exact"}, {"kind": "else"}]},
            ],
            "threshold": {"match_probability": 0.9},
        }
    )
    frame = pl.DataFrame(
        {
            "rid": [str(i) for i in range(6)],
            "id_number": [
                "11010519491231002X",
                "11010519491231002X",
                "无",  # planted: a placeholder, not read
                "无",  # planted: the same placeholder again (counted per row, not per distinct value)
                "abc",  # planted: malformed, not read
                None,  # absent: not counted
            ],
            "birth": [
                "1949-12-31",
                "49.12.31",  # a two-digit year: read
                "待定",  # planted: not a date
                "",  # blank: not counted
                "1949-12-31",
                "1949-12-31",
            ],
        }
    )
    engine = MatchEngine(spec)
    try:
        engine.load(frame)
        got = {u.feature: (u.present, u.unparsed) for u in engine.unparsed}
        assert got == {"id": (5, 3), "dob": (5, 1)}
        assert engine.unparsed[0].examples[0] == "无"  # the most frequent unread value first
    finally:
        engine.close()
