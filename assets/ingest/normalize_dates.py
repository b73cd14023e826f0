"""Dates and year-months in every delivered spelling, partial dates and Excel serials.

Part of the value normalizers (assets/ingest/normalize.py re-exports the public names).
"""

from __future__ import annotations

import datetime as dt
import functools

import polars as pl

from assets.ingest.normalize_base import (
    _DATE_RE,
    _DATE_RESULT,
    _EXCEL_EPOCH_OFFSET,
    _PARTIAL_RE,
    _PARTIAL_YEARS,
    _RAW,
    _YEAR_MONTH_RE,
    _YEAR_MONTH_RESULT,
    _clean_expr,
    _flag_when_missing,
    _frame,
    _struct,
)


# ------------------------------------------------------------------------------------------- dates, months
def _iso_date(year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Expr:
    """Date from digit strings; null for impossible dates (2026-02-30) because strptime validates them."""
    text = pl.concat_str(year, pl.lit("-"), month.str.zfill(2), pl.lit("-"), day.str.zfill(2))
    return text.str.to_date("%Y-%m-%d", strict=False)


def _two_digit_year_date(yy: pl.Expr, month: pl.Expr, day: pl.Expr, as_of: dt.date) -> pl.Expr:
    """85.3.7 → 1985-03-07, 20.3.7 → 2020-03-07: 20yy when that date is not after `as_of`, else 19yy."""
    yy = yy.str.zfill(2)  # 4.1.11 is 2004-01-11 (a year written as y % 100)
    recent = _iso_date(pl.concat_str(pl.lit("20"), yy), month, day)
    earlier = _iso_date(pl.concat_str(pl.lit("19"), yy), month, day)
    return pl.when(recent <= pl.lit(as_of)).then(recent).otherwise(earlier)


def _with_date(
    frame: pl.DataFrame, cleaned: str, out: str, serial_column: bool = False, as_of: dt.date | None = None
) -> pl.DataFrame:
    """Add `out` (Date) parsed from the cleaned text column `cleaned`, and `out`_partial (YYYY or YYYY-MM text)
    for a date known to the year or month only.

    A bare number is an Excel serial when it has 5 digits (1927-05-18 onwards); a shorter one only when
    `serial_column` says the column's other cells are serials. Otherwise 1900-2100 is a year (partial), never
    a 1905 date. year.month (1985.3) is a partial date before it is a serial with a time of day.
    A two-digit year (85.3.7) takes its century from `as_of` (default today) and sets `out`_two_digit.
    """
    frame = frame.with_columns(
        pl.col(cleaned).str.extract_groups(_DATE_RE).alias("__date_parts"),
        pl.col(cleaned).str.extract_groups(_PARTIAL_RE).alias("__partial"),
    )
    part = pl.col("__date_parts").struct.field
    serial_text = part("serial")
    serial = serial_text.cast(pl.Int32, strict=False)
    if not serial_column:
        serial = pl.when(serial_text.str.len_chars() == 5).then(serial)
    p = pl.col("__partial").struct.field
    year = pl.coalesce(p("y"), p("cy"))
    month = pl.coalesce(p("m"), p("cm")).cast(pl.Int32, strict=False)
    year_ok = year.cast(pl.Int32, strict=False).is_between(*_PARTIAL_YEARS)
    bare_number = pl.col(cleaned).str.contains(r"^\d+$")
    partial = (
        pl.when(~year_ok)
        .then(None)
        .when(month.is_between(1, 12))
        .then(pl.concat_str(year, pl.lit("-"), month.cast(pl.String).str.zfill(2)))
        .when(month.is_null() & ~(bare_number & pl.lit(serial_column)))
        .then(year)
    )
    two_digit = _two_digit_year_date(part("yy"), part("ym"), part("yd"), as_of or dt.date.today())
    value = pl.coalesce(
        _iso_date(part("y"), part("m"), part("d")),
        _iso_date(part("cy"), part("cm"), part("cd")),
        two_digit,
        pl.when(partial.is_null() & serial.is_between(1, 80000)).then(
            (serial - _EXCEL_EPOCH_OFFSET).cast(pl.Date)
        ),
    )
    return frame.with_columns(
        value.alias(out),
        pl.when(value.is_null()).then(partial).alias(f"{out}_partial"),
        two_digit.is_not_null().alias(f"{out}_two_digit"),
    ).drop("__date_parts", "__partial")


def _date_frame(series: pl.Series, serial_column: bool = False, as_of: dt.date | None = None) -> pl.DataFrame:
    """Columns value (Date), value_partial (YYYY / YYYY-MM) and flag (unparsed_date / partial_date /
    two_digit_year)."""
    frame = _with_date(
        _frame(series).with_columns(c=_clean_expr(pl.col(_RAW))), "c", "value", serial_column, as_of
    )
    return frame.with_columns(
        flag=pl.when(pl.col("value_partial").is_not_null())
        .then(pl.lit("partial_date"))
        .when(pl.col("value_two_digit"))
        .then(pl.lit("two_digit_year"))
        .otherwise(_flag_when_missing("value", "c", "unparsed_date"))
    )


def _date_batch(series: pl.Series, serial_column: bool = False, as_of: dt.date | None = None) -> pl.Series:
    return (
        _date_frame(series, serial_column, as_of)
        .select(_struct(value=pl.col("value"), flag=pl.col("flag")))
        .to_series()
    )


def _year_month_batch(series: pl.Series) -> pl.Series:
    frame = _frame(series).with_columns(c=_clean_expr(pl.col(_RAW)))
    frame = frame.with_columns(parts=pl.col("c").str.extract_groups(_YEAR_MONTH_RE))
    frame = _with_date(frame, "c", "full")
    part = pl.col("parts").struct.field
    frame = frame.with_columns(
        value=pl.coalesce(
            _iso_date(part("y"), part("m"), pl.lit("1")),
            _iso_date(part("cy"), part("cm"), pl.lit("1")),
            pl.col("full").dt.month_start(),
        )
    )
    # A bare year is known to the year only: kept as YYYY and flagged, never read as an Excel serial.
    year_only = pl.when(pl.col("value").is_null() & (pl.col("full_partial").str.len_chars() == 4)).then(
        pl.col("full_partial")
    )
    return frame.select(
        _struct(
            value=pl.col("value"),
            text=pl.coalesce(pl.col("value").dt.to_string("%Y-%m"), year_only),
            flag=pl.when(year_only.is_not_null())
            .then(pl.lit("partial_date"))
            .otherwise(_flag_when_missing("value", "c", "unparsed_year_month")),
        )
    ).to_series()


def parse_date(expr: pl.Expr, *, as_of: dt.date | None = None) -> pl.Expr:
    """Date in any delivered spelling → struct{value: Date, flag}; flag `unparsed_date` when
    not blank and not a real date, `partial_date` (value null) for a year or year-month alone (1985, 1985.3,
    1985年3月). Accepts 2026-03-05, 2026-3-5, 2026/3/5, 2026.3.5, 2026年3月5日, 20260305, Excel serials (5 integer
    digits, optional fraction; 1899-12-30 + n days; shorter ones only through `normalize_frame_by_type` in a
    column of serials), ISO datetimes, and full-width forms. A two-digit year (85.3.7, 85-03-07, 85/3/7,
    85年3月7日) is 20yy when that date is not after `as_of` (the run date; default today), else 19yy, and is
    flagged `two_digit_year` (value set): a date so written is never read as one in the future."""
    func = functools.partial(_date_batch, as_of=as_of)
    return expr.map_batches(func, return_dtype=_DATE_RESULT, is_elementwise=True)


def parse_year_month(expr: pl.Expr) -> pl.Expr:
    """Year-month → struct{value: Date (first of month), text: "1950-03", flag}. Accepts
    1950-03, 1950/3, 1950年3月, 195003, 1950.03 and any full date `parse_date` reads (the day is dropped). A bare year
    is kept as text "1950" and flagged `partial_date` (value null)."""
    return expr.map_batches(_year_month_batch, return_dtype=_YEAR_MONTH_RESULT, is_elementwise=True)
