"""Helpers shared by the matching tests: a tiny resident-like spec and record builders."""

from __future__ import annotations

import polars as pl
import pytest

from assets.common import paths
from assets.matching import load_spec
from assets.matching.transforms import check_digit

RESIDENT_SPEC = paths.SCHEMAS_DIR / "matching" / "residents.yaml"
COLUMNS = ["record_id", "person_name", "id_number", "sex", "birth_date", "birth_precision", "phone",
           "household_address", "residence_address", "committee_code", "period_start"]  # fmt: skip


def valid_id(body17: str) -> str:
    return body17 + check_digit(body17)


def records(rows: list[dict]) -> pl.DataFrame:
    """Resident rows with every spec column; unspecified values are null."""
    full = [{c: r.get(c) for c in COLUMNS} for r in rows]
    frame = pl.DataFrame(full, schema={c: pl.String for c in COLUMNS})
    return frame.with_columns(pl.col("birth_date").str.to_date(), pl.col("period_start").str.to_date())


@pytest.fixture(scope="session")
def resident_spec():
    return load_spec(RESIDENT_SPEC)
