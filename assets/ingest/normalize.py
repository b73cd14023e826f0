"""Vectorized normalizers for the values districts deliver (all input columns are Utf8).

Why: the same person, date or phone arrives in a dozen spellings (full-width digits, 2026年3月5日, Excel serials,
+86 prefixes, 15-digit legacy IDs). Staging stores one canonical text form per value plus a short flag saying why a
value could not be normalized, so that downstream matching and metrics never re-parse raw text.

Every function takes and returns a polars expression, and works eagerly, lazily and in group contexts. The
multi-step ones are `map_batches(..., is_elementwise=True)` over a chain of `with_columns` stages: Python runs once
per batch, never per row, and each intermediate (the NFKC-cleaned text, the regex groups) is materialized once.
A single nested expression would not do: polars' common-subexpression elimination does not reach into when/then
branches, so a shared sub-tree referenced k times is evaluated k times, and nesting made that exponential.

Conventions
- Blank input (null, empty or only whitespace) gives a null value and a null flag.
- `flag` is null when the value is fine, else a snake_case reason from `FLAGS`.
- Typed parsers (`parse_date`, `parse_integer`, ...) return a null value when flagged.
- Text-valued normalizers (`normalize_id_number`, `normalize_phone`, `normalize_sex`, `normalize_by_type`) keep the
  cleaned text as the value when flagged: a non-null flag always means "value is not canonical".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from functools import partial

import polars as pl

from assets.ingest.normalize_base import (
    _DASHES,
    _FLAGGED_TEXT,
    _NAME_DOTS,
    _NUMBER_RE,
    _RAW,
    _SEX_MAP,
    _THOUSANDS_RE,
    _UNIT_SUFFIXES,
    _ZERO_WIDTH,
    BOOL_FALSE,
    BOOL_TRUE,
    FIELD_TYPES,
    FLAGS,
    ID_STATUSES,
    MIN_BIRTH_DATE,
    _clean_expr,
    _flag_when_missing,
    _frame,
    _struct,
    unwrap_text_protection,
)
from assets.ingest.normalize_dates import _date_frame, _year_month_batch, parse_date, parse_year_month
from assets.ingest.normalize_ids import (
    ID_WEIGHTS,
    _float_exact,
    _id_batch,
    id_check_digit,
    id_check_digit_scalar,
    is_valid_id,
    normalize_id_number,
)

__all__ = [
    "BOOL_FALSE",
    "BOOL_TRUE",
    "FIELD_TYPES",
    "FLAGS",
    "ID_STATUSES",
    "ID_WEIGHTS",
    "MIN_BIRTH_DATE",
    "id_check_digit",
    "id_check_digit_scalar",
    "is_valid_id",
    "normalize_by_type",
    "normalize_frame_by_type",
    "normalize_id_number",
    "normalize_name",
    "normalize_phone",
    "normalize_sex",
    "normalize_text",
    "parse_bool",
    "parse_date",
    "parse_decimal",
    "parse_integer",
    "parse_year_month",
]


# ------------------------------------------------------------------------------------------------ text, name
def normalize_text(expr: pl.Expr) -> pl.Expr:
    """NFKC, strip, collapse whitespace runs (incl. \u3000, \xa0) to one space; blank → null. Returns Utf8."""
    return _clean_expr(expr).str.replace_all(r"\s+", " ")


def normalize_name(expr: pl.Expr) -> pl.Expr:
    """Text rules, then glue CJK characters back together (张 伟 → 张伟) and unify the middle dot of minority
    names (‧ • ・ → ·), keeping one space inside Latin names. Returns Utf8."""
    han_gap = r"(\p{Han})\s+(\p{Han})"
    return (
        normalize_text(expr)
        .str.replace_all(r"\s*" + _NAME_DOTS + r"\s*", "\u00b7")
        # A full stop between two Han characters is a mistyped middle dot (阿卜杜拉.买买提).
        .str.replace_all(r"(\p{Han})\s*\.\s*(\p{Han})", "${1}\u00b7${2}")
        # Matches cannot overlap, so "张 伟 明" needs a second pass for the gap the first one skipped.
        .str.replace_all(han_gap, "${1}${2}")
        .str.replace_all(han_gap, "${1}${2}")
    )


# ------------------------------------------------------------------------------------------ phone, sex, bool
def _phone_batch(series: pl.Series) -> pl.Series:
    c = pl.col("c")
    frame = _frame(series).with_columns(
        c=unwrap_text_protection(pl.col(_RAW).str.normalize("NFKC").str.strip_chars())
        .str.replace_all(r"[\s" + _DASHES + r".()]|" + _ZERO_WIDTH, "")
        .replace("", None)
    )
    frame = frame.with_columns(
        value=pl.coalesce(
            c.str.extract(r"^(?:\+?86|0086)?(1[3-9][0-9]{9})$", 1),
            pl.concat_str(
                pl.lit("021"),
                pl.coalesce(
                    c.str.extract(r"^(?:(?:\+?86|0086)0?|0)?21([2-9][0-9]{7})$", 1),
                    c.str.extract(r"^([2-9][0-9]{7})$", 1),
                ),
            ),
        )
    )
    return frame.select(
        _struct(value=pl.coalesce("value", "c"), flag=_flag_when_missing("value", "c", "unparsed_phone"))
    ).to_series()


def _sex_batch(series: pl.Series) -> pl.Series:
    frame = _frame(series).with_columns(c=normalize_text(pl.col(_RAW)))
    frame = frame.with_columns(
        value=pl.col("c").str.to_uppercase().replace_strict(_SEX_MAP, default=None, return_dtype=pl.String)
    )
    return frame.select(
        _struct(value=pl.coalesce("value", "c"), flag=_flag_when_missing("value", "c", "unparsed_sex"))
    ).to_series()


_BOOL_MAP: dict[str, bool] = {**dict.fromkeys(BOOL_TRUE, True), **dict.fromkeys(BOOL_FALSE, False)}


def parse_bool(expr: pl.Expr) -> pl.Expr:
    """Yes/no → struct{value: Boolean, flag `unparsed_bool`}. Accepts 是/否, Y/N, YES/NO, √/×, 有/无,
    TRUE/FALSE, T/F, 1/0 (any case). Cheap enough to stay one expression."""
    cleaned = _clean_expr(expr).str.to_uppercase()
    value = cleaned.replace_strict(_BOOL_MAP, default=None, return_dtype=pl.Boolean)
    flag = pl.when(value.is_null() & cleaned.is_not_null()).then(pl.lit("unparsed_bool"))
    return _struct(value=value, flag=flag)


def normalize_phone(expr: pl.Expr) -> pl.Expr:
    """Phone → struct{value: Utf8, flag}. Mobiles become 11 digits (+86/0086/86 dropped),
    Shanghai landlines 021 + 8 digits (a bare 8-digit number starting 2-9 gets 021, +86 21 … too). Anything else
    keeps the cleaned text (no spaces, dashes, dots, parentheses) and is flagged `unparsed_phone`."""
    return expr.map_batches(_phone_batch, return_dtype=_FLAGGED_TEXT, is_elementwise=True)


def normalize_sex(expr: pl.Expr) -> pl.Expr:
    """Sex → struct{value: 男/女 (the cleaned text when flagged), flag `unparsed_sex`}.
    Accepts 男/女/男性/女性/M/F/MALE/FEMALE/1/2, any case."""
    return expr.map_batches(_sex_batch, return_dtype=_FLAGGED_TEXT, is_elementwise=True)


# ---------------------------------------------------------------------------------------------------- numbers
def _number_frame(series: pl.Series) -> pl.DataFrame:
    """Columns c (cleaned text), sign, int, frac (null unless a plain number once units and separators go)."""
    frame = _frame(series).with_columns(c=_clean_expr(pl.col(_RAW)))
    frame = frame.with_columns(
        t=pl.col("c").str.strip_chars_end(_UNIT_SUFFIXES).str.strip_chars().str.replace_all("\u2212", "-")
    )
    t = pl.col("t")
    frame = frame.with_columns(
        pl.when(t.str.contains(_THOUSANDS_RE)).then(t.str.replace_all(",", "")).otherwise(t).alias("t")
    )
    frame = frame.with_columns(pl.col("t").str.extract_groups(_NUMBER_RE).struct.unnest())
    # "." or "+" alone match the pattern but hold no digit.
    no_digit = (pl.col("int").str.len_bytes() == 0) & (pl.col("frac").fill_null("").str.len_bytes() == 0)
    return frame.with_columns(
        [pl.when(~no_digit).then(pl.col(name)).alias(name) for name in ("sign", "int", "frac")]
    ).with_columns(frac=pl.col("frac").fill_null(""))


def _with_decimal_text(frame: pl.DataFrame, out: str) -> pl.DataFrame:
    """Canonical decimal text from the digits (exact, no float round-trip): -0012.500 → -12.5, -0 → 0."""
    frame = frame.with_columns(
        __whole=pl.col("int").str.strip_chars_start("0").replace("", "0"),
        __frac=pl.col("frac").str.strip_chars_end("0"),
    )
    whole, frac = pl.col("__whole"), pl.col("__frac")
    is_zero = (whole == "0") & (frac == "")
    sign = pl.when((pl.col("sign") == "-") & ~is_zero).then(pl.lit("-")).otherwise(pl.lit(""))
    body = pl.when(frac != "").then(pl.concat_str(whole, pl.lit("."), frac)).otherwise(whole)
    return frame.with_columns(pl.concat_str(sign, body).alias(out)).drop("__whole", "__frac")


def _integer_batch(series: pl.Series) -> pl.Series:
    frame = _number_frame(series).with_columns(frac_zero=pl.col("frac").str.contains(r"^0*$"))
    whole = pl.col("int").replace("", "0")
    frame = frame.with_columns(
        value=pl.when("frac_zero").then(pl.concat_str("sign", whole).cast(pl.Int64, strict=False))
    )
    flag = (
        pl.when(pl.col("c").is_null() | pl.col("value").is_not_null())
        .then(pl.lit(None, dtype=pl.String))
        .when(pl.col("int").is_not_null() & ~pl.col("frac_zero"))
        .then(pl.lit("not_an_integer"))
        .otherwise(pl.lit("not_a_number"))
    )
    return frame.select(_struct(value=pl.col("value"), flag=flag)).to_series()


def _decimal_batch(series: pl.Series) -> pl.Series:
    frame = _with_decimal_text(_number_frame(series), "text")
    frame = frame.with_columns(value=pl.col("text").cast(pl.Float64, strict=False))
    return frame.select(
        _struct(value=pl.col("value"), flag=_flag_when_missing("value", "c", "not_a_number"))
    ).to_series()


def parse_integer(expr: pl.Expr) -> pl.Expr:
    """Integer → struct{value: Int64, flag}. Strips thousands separators (1,200) and a trailing
    元/人/岁; "12.0" (Excel numeric cells) is 12. Flags `not_an_integer` (12.5) or `not_a_number` (不详, overflow)."""
    return expr.map_batches(
        _integer_batch, return_dtype=pl.Struct({"value": pl.Int64, "flag": pl.String}), is_elementwise=True
    )


def parse_decimal(expr: pl.Expr) -> pl.Expr:
    """Number → struct{value: Float64, flag `not_a_number`}; same cleaning as `parse_integer`."""
    return expr.map_batches(
        _decimal_batch, return_dtype=pl.Struct({"value": pl.Float64, "flag": pl.String}), is_elementwise=True
    )


# -------------------------------------------------------------------------------------------------- dispatch
def _canonical_batch(
    series: pl.Series, field_type: str, serial_column: bool = False, as_of: dt.date | None = None
) -> pl.Series:
    """struct{value: canonical text, flag} for one type; when flagged the value is the normalized text, except a
    partial date, whose value is what is known of it (YYYY or YYYY-MM)."""
    partial_text = pl.lit(None, dtype=pl.String)
    if field_type == "date":
        frame = _date_frame(series, serial_column, as_of).with_columns(
            canonical=pl.col("value").dt.to_string("%Y-%m-%d"), text=normalize_text(pl.col(_RAW))
        )
        partial_text = pl.col("value_partial")
    elif field_type == "decimal":
        frame = _with_decimal_text(_number_frame(series), "canonical")
        frame = frame.with_columns(
            flag=_flag_when_missing("canonical", "c", "not_a_number"), text=normalize_text(pl.col(_RAW))
        )
    else:
        parsed = {
            "year_month": _year_month_batch,
            "integer": _integer_batch,
        }.get(field_type)
        frame = _frame(series)
        if parsed is not None:
            frame = frame.with_columns(parsed(series).alias("p")).unnest("p")
        else:  # bool
            frame = frame.with_columns(parse_bool(pl.col(_RAW)).struct.unnest())
        canonical = {
            "year_month": pl.col("text"),
            "integer": pl.col("value").cast(pl.String),
            "bool": pl.col("value").replace_strict({True: "是", False: "否"}, return_dtype=pl.String),
        }[field_type]
        frame = frame.with_columns(canonical.alias("canonical"), text=normalize_text(pl.col(_RAW)))
        if field_type == "year_month":
            partial_text = pl.col("canonical")
    return frame.select(
        _struct(
            # two_digit_year is read, only flagged: its value is the date
            value=pl.when(pl.col("flag").is_null() | (pl.col("flag") == "two_digit_year"))
            .then("canonical")
            .when(pl.col("flag") == "partial_date")
            .then(partial_text)
            .otherwise("text"),
            flag=pl.col("flag"),
        )
    ).to_series()


def _id_flag_batch(series: pl.Series, as_of: dt.date) -> pl.Series:
    frame = _id_batch(series, MIN_BIRTH_DATE, as_of).struct.unnest()
    status = pl.col("status")
    flag = pl.when(
        status.is_in(["malformed", "invalid_date", "wrong_check_digit", "precision_lost", "placeholder"])
    ).then(status)
    return frame.select(_struct(value=pl.col("value"), flag=flag)).to_series()


def normalize_by_type(
    value_expr: pl.Expr, field_type: str, *, as_of: dt.date | None = None, serial_column: bool = False
) -> pl.Expr:
    """Normalized text form for one catalog type → struct{value: Utf8, flag: Utf8}.

    value: ISO date, "YYYY-MM", 18-digit ID, 11-digit mobile / 021 landline, 男/女, 是/否, integer or exact
    decimal text, NFKC-trimmed text. When flagged, value is the normalized text of the input (the cleaned phone /
    ID for those types), so it is null only for blank input. For id_number the flag is the status when it is
    malformed, invalid_date, wrong_check_digit or precision_lost (converted_15 is a successful normalization: no
    flag); `as_of` (default today) is the latest birth date an ID may encode. A partial date's value is YYYY or
    YYYY-MM, flagged `partial_date`; `serial_column` reads short bare numbers of a date field as Excel serials.
    """
    if field_type == "text":
        return _struct(value=normalize_text(value_expr), flag=pl.lit(None, dtype=pl.String))
    if field_type == "phone":
        return normalize_phone(value_expr)
    if field_type == "sex":
        return normalize_sex(value_expr)
    if field_type == "id_number":
        func = partial(_id_flag_batch, as_of=as_of or dt.date.today())
        return value_expr.map_batches(func, return_dtype=_FLAGGED_TEXT, is_elementwise=True)
    if field_type in ("date", "year_month", "integer", "decimal", "bool"):
        func = partial(_canonical_batch, field_type=field_type, serial_column=serial_column, as_of=as_of)
        return value_expr.map_batches(func, return_dtype=_FLAGGED_TEXT, is_elementwise=True)
    raise ValueError(f"unknown field_type {field_type!r}; expected one of {', '.join(FIELD_TYPES)}")


def normalize_frame_by_type(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    value_col: str = "value_raw",
    type_col: str = "field_type",
    value_name: str = "value",
    flag_name: str = "value_flag",
    type_aliases: Mapping[str, str] | None = None,
    column_key: Sequence[str] | None = None,
    as_of: dt.date | None = None,
) -> pl.LazyFrame:
    """Add `value_name` and `flag_name` to a long table with one Utf8 value and its field type per row.

    Each type's rows go through only that type's normalizer (a when/then over all types would run all nine on
    every row), then the rows are put back in input order. Stays lazy: nothing is collected here. A null type
    is treated as text (extra columns); `type_aliases` maps other spellings (e.g. the catalog's 日期) to internal
    types; any other type keeps its normalized text and is flagged `unknown_field_type`, so no row is lost.

    `column_key` names the columns that identify one delivered column (e.g. file_id, field_order): values are
    then judged with their neighbours. A date column whose cells are mostly 5-digit Excel serials reads its
    short numbers as serials too (elsewhere 1985 is a year); an ID column with any float damage marks every
    18-digit number in it that ends in 000 or is exactly a float's value `precision_lost`.
    `as_of` (default today) is the latest birth date an ID may encode.
    """
    type_expr = pl.col(type_col).cast(pl.String)
    if type_aliases:
        type_expr = type_expr.replace(dict(type_aliases))
    index, kind = "__normalize_row", "__normalize_type"
    indexed = frame.lazy().with_row_index(index).with_columns(type_expr.fill_null("text").alias(kind))
    if column_key:
        raw = pl.col(value_col).str.strip_chars()
        serial_share = (
            raw.str.contains(r"^\d{5}(?:\.\d+)?$").sum() * 2 >= raw.str.len_chars().gt(0).sum()
        ) & raw.str.contains(r"^\d{5}(?:\.\d+)?$").any()
        serial = pl.when(pl.col(kind) == "date").then(serial_share.over(list(column_key))).otherwise(False)
        indexed = indexed.with_columns(serial.fill_null(False).alias("__serial_column"))
    else:
        indexed = indexed.with_columns(pl.lit(False).alias("__serial_column"))

    def typed(rows: pl.LazyFrame, field_type: str, serial_column: bool = False) -> pl.LazyFrame:
        expr = normalize_by_type(pl.col(value_col), field_type, as_of=as_of, serial_column=serial_column)
        return rows.with_columns(expr.struct.rename_fields([value_name, flag_name]).struct.unnest())

    parts = [typed(indexed.filter(pl.col(kind) == t), t) for t in FIELD_TYPES if t != "date"]
    dates = indexed.filter(pl.col(kind) == "date")
    parts += [typed(dates.filter(~pl.col("__serial_column")), "date"),
              typed(dates.filter(pl.col("__serial_column")), "date", serial_column=True)]  # fmt: skip
    unknown = indexed.filter(~pl.col(kind).is_in(FIELD_TYPES)).with_columns(
        normalize_text(pl.col(value_col)).alias(value_name), pl.lit("unknown_field_type").alias(flag_name)
    )
    out = pl.concat([*parts, unknown], how="vertical").sort(index)
    if column_key:
        value = pl.col(value_name)
        damaged = ((pl.col(flag_name) == "precision_lost").any().over(list(column_key))) & (
            pl.col(kind) == "id_number"
        )
        suspect = value.str.contains(r"^[0-9]{18}$") & (value.str.ends_with("000") | _float_exact(value))
        out = out.with_columns(
            pl.when(damaged & suspect.fill_null(False)).then(pl.lit("precision_lost")).otherwise(pl.col(flag_name))
            .alias(flag_name)
        )  # fmt: skip
    return out.drop(index, kind, "__serial_column")
