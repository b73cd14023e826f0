"""Shanghai's administrative divisions: 16 districts, 234 township-level units, 6,509 committees.

The 12-digit statistical code is hierarchical (6 digits district, 9 township, 12 committee), so a
jurisdiction contains another exactly when its code is a prefix of the other's.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from assets.common import paths

DIVISIONS_CSV = paths.REFERENCE_DIR / "shanghai_divisions.csv"
COLUMNS = ("district_code", "district_name", "township_code", "township_name", "committee_code",
           "committee_name", "committee_kind")  # fmt: skip


def load_divisions(path: Path = DIVISIONS_CSV) -> pl.DataFrame:
    """Read the committee table and check the code hierarchy holds on every row."""
    frame = pl.read_csv(path, infer_schema=False)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    frame = frame.select(COLUMNS)
    broken = frame.filter(
        ~pl.col("committee_code").str.contains(r"^\d{12}$")
        | ~pl.col("committee_code").str.starts_with(pl.col("township_code"))
        | ~pl.col("township_code").str.starts_with(pl.col("district_code"))
    )
    if broken.height:
        row = broken.row(0, named=True)
        raise ValueError(f"{path}: committee {row['committee_code']} breaks the code hierarchy")
    if frame["committee_code"].n_unique() != frame.height:
        raise ValueError(f"{path}: committee codes are not unique")
    return frame.sort("committee_code")


def district_codes(path: Path = DIVISIONS_CSV) -> list[str]:
    """The 16 district codes, sorted: the ingestion partitions."""
    return sorted(
        pl.read_csv(path, columns=["district_code"], infer_schema=False)["district_code"].unique().to_list()
    )
