"""Values that lie: IDs that went through a float, partial dates, Excel serials, and no fixed date cut-off."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from assets.ingest import normalize as nz

D = dt.date


def ids(values: list[str | None], **kw: object) -> list[dict]:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    return frame.select(nz.normalize_id_number(pl.col("v"), **kw).alias("o")).to_series().to_list()


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("3.10101E+17", "precision_lost"),  # planted: Excel's scientific display exported to CSV
        ("3.10101198001011E+17", "precision_lost"),  # planted: more digits, still a float
        ("3.10101e17", "precision_lost"),  # planted: lower-case, no sign
        ("310101198001011234.0", "precision_lost"),  # planted: a numeric cell written out by a script
        (
            "310101198001011000",
            "precision_lost",
        ),  # planted: Excel kept 15 digits (check digit 0 is wrong here)
        (
            "310101198001011008",
            "precision_lost",
        ),  # planted: that number read back from a numeric cell (a float)
        ("310101194001011231", "valid"),  # a genuine ID
        ("310101194001011234", "wrong_check_digit"),  # a typo in a genuine ID: not a float's value
        ("310101194001011230", "wrong_check_digit"),  # ends in 0, not 000: an ordinary typo
    ],
)
def test_ids_that_went_through_a_float_are_never_valid(raw: str, status: str) -> None:
    (got,) = ids([raw])
    assert got["status"] == status
    if status == "precision_lost":  # its digits are not the person's
        assert got["birth_date"] is None and got["sex"] is None


def test_a_column_with_float_damage_takes_down_lookalikes() -> None:
    # 310101194001011000 passes its check digit by chance (as 1 in 11 truncated numbers do); alone it is valid,
    # but in a column where another number is visibly damaged it is a float's value too.
    assert nz.is_valid_id("310101194001011000", as_of=D(2026, 11, 29)) is False  # check digit of …00 is 3
    genuine_000 = next(
        f"3101011940010{n:02d}000"
        for n in range(100)
        if nz.is_valid_id(f"3101011940010{n:02d}000", as_of=D(2026, 1, 1))
    )
    long = pl.DataFrame(
        {
            "file_id": ["f1", "f1", "f2", "f2"],
            "field_order": [2, 2, 2, 2],
            "field_type": ["id_number"] * 4,
            "value_raw": [genuine_000, "3.10101E+17", genuine_000, "310101194001011231"],
        }
    )
    # f1: planted float damage beside the lookalike; f2: the same lookalike among clean IDs
    out = nz.normalize_frame_by_type(
        long, column_key=("file_id", "field_order"), as_of=D(2026, 11, 29)
    ).collect()
    assert out["value_flag"].to_list() == ["precision_lost", "precision_lost", None, None]


def test_no_fixed_birth_cut_off() -> None:
    born_2027 = "310101202701010012"
    born_2027 = born_2027[:17] + nz.id_check_digit_scalar(born_2027[:17])
    # Delivered in 2026 the birth date lies in the future; delivered in 2027 it is an ordinary newborn.
    assert ids([born_2027], max_birth_date=D(2026, 11, 29))[0]["status"] == "invalid_date"
    assert ids([born_2027], max_birth_date=D(2027, 3, 1))[0]["status"] == "valid"
    assert nz.is_valid_id(born_2027, as_of=D(2027, 3, 1)) is True
    assert not hasattr(nz, "MAX_BIRTH_DATE")


@pytest.mark.parametrize(
    ("raw", "value", "flag"),
    [
        ("1985", "1985", "partial_date"),  # planted: a year alone (never Excel serial 1985 = 1905-06-07)
        ("1985年", "1985", "partial_date"),
        ("1985.3", "1985-03", "partial_date"),  # planted: year.month (never serial 1985 + 0.3 days)
        ("1985.10", "1985-10", "partial_date"),
        ("1985-03", "1985-03", "partial_date"),
        ("1985/3", "1985-03", "partial_date"),
        ("1985年3月", "1985-03", "partial_date"),
        ("198503", "1985-03", "partial_date"),
        ("1985-03-07", "1985-03-07", None),  # a full date is unchanged
        ("31048", "1985-01-01", None),  # a 5-digit serial is unambiguous
        ("1000", "1000", "unparsed_date"),  # planted: neither a year nor, alone, a serial
        ("1985.13", "1985.13", "unparsed_date"),  # planted: no month 13
        ("2150", "2150", "unparsed_date"),  # planted: outside the plausible years
    ],
)
def test_partial_dates_keep_their_precision(raw: str, value: str, flag: str | None) -> None:
    frame = pl.DataFrame({"v": [raw]}).select(nz.normalize_by_type(pl.col("v"), "date").alias("o"))
    assert frame["o"].to_list() == [{"value": value, "flag": flag}]


def test_short_numbers_are_serials_only_in_a_column_of_serials() -> None:
    long = pl.DataFrame(
        {
            "file_id": ["serials"] * 3 + ["years"] * 3,
            "field_order": [3] * 6,
            "field_type": ["date"] * 6,
            # planted: 1985 in a column of Excel serials is serial 1985 (1905-06-07); among years it is a year
            "value_raw": ["31048", "31413", "1985", "1950", "1960", "1985"],
        }
    )
    out = nz.normalize_frame_by_type(long, column_key=("file_id", "field_order")).collect()
    assert list(zip(out["value"], out["value_flag"], strict=True)) == [
        ("1985-01-01", None), ("1986-01-01", None), ("1905-06-07", None),
        ("1950", "partial_date"), ("1960", "partial_date"), ("1985", "partial_date"),
    ]  # fmt: skip


def test_new_flags_are_in_the_vocabulary() -> None:
    assert {"precision_lost", "partial_date"} <= set(nz.FLAGS)
    assert "precision_lost" in nz.ID_STATUSES
