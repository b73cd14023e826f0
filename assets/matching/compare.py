"""Which level each comparison gives two given records: the engine's view of a pair, for explaining it."""

from __future__ import annotations

import duckdb
import polars as pl

from assets.matching import sql as S
from assets.matching.spec import MatchSpec


def compare_pairs(
    con: duckdb.DuckDBPyConnection, spec: MatchSpec, pairs: list[tuple[str, str]]
) -> pl.DataFrame:
    """Level names per comparison for (record_id, record_id) pairs of the records loaded in `con` (`__rec`);
    "null" when a side is missing."""
    want = pl.DataFrame(
        {"a": [p[0] for p in pairs], "b": [p[1] for p in pairs]}, schema={"a": pl.String, "b": pl.String}
    )
    want_arrow = want.to_arrow()  # noqa: F841
    gam = S.gamma_select(spec)
    frame = con.sql(
        f"SELECT w.a AS record_id_l, w.b AS record_id_r, {gam} FROM want_arrow w "
        "JOIN __rec l ON l.record_id = w.a JOIN __rec r ON r.record_id = w.b"
    ).pl()
    names = {comp.name: ["null", *[lv.name for lv in comp.levels]] for comp in spec.comparisons}
    return want.rename({"a": "record_id_l", "b": "record_id_r"}).join(
        frame.with_columns(
            [
                pl.col(f"g_{c}")
                .cast(pl.Int64)
                .map_elements(lambda g, c=c: names[c][g + 1], return_dtype=pl.String)
                .alias(c)
                for c in names
            ]
        ).select("record_id_l", "record_id_r", *names),
        on=["record_id_l", "record_id_r"],
        how="left",
        maintain_order="left",
    )
