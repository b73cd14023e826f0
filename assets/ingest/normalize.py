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
import re
from collections.abc import Mapping, Sequence
from functools import partial

import polars as pl

from assets.common.gb11643 import CHECK_CHARS, ID_WEIGHTS, check_digit

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

FIELD_TYPES: tuple[str, ...] = (
    "text",
    "id_number",
    "date",
    "year_month",
    "phone",
    "sex",
    "integer",
    "decimal",
    "bool",
)
ID_STATUSES: tuple[str, ...] = (
    "valid",
    "converted_15",
    "wrong_check_digit",
    "invalid_date",
    "malformed",
    "precision_lost",
    "blank",
)
FLAGS: tuple[str, ...] = (
    "malformed",
    "invalid_date",
    "wrong_check_digit",  # id_number (the id status when it is a problem)
    "unparsed_date",
    "unparsed_year_month",
    "unparsed_phone",
    "unparsed_sex",
    "unparsed_bool",
    "not_a_number",
    "not_an_integer",
    "unknown_field_type",  # normalize_frame_by_type: a field type outside FIELD_TYPES
    "precision_lost",  # id_number that went through a float (3.10115E+17, …1000 from Excel's 15 digits)
    "partial_date",  # a date known to the year or month only (1985, 1985.3, 1985年3月): value YYYY or YYYY-MM
)

# GB 11643-1999: weight of position i (1-based) is 2^(18-i) mod 11; the check character is indexed by sum mod 11.
_CHECK_CHARS = CHECK_CHARS
MIN_BIRTH_DATE = dt.date(1900, 1, 1)
# No fixed upper cut-off: a birth date in an ID may not lie after `as_of` (the run date the caller passes;
# today when it passes none), so valid records never start failing when the calendar moves on.

# Excel's day 0 is 1899-12-30 (this absorbs the 1900 leap-year bug for serials >= 61); polars Date counts from 1970.
_EXCEL_EPOCH_OFFSET = (dt.date(1970, 1, 1) - dt.date(1899, 12, 30)).days  # 25569

BOOL_TRUE: tuple[str, ...] = ("是", "Y", "YES", "√", "✓", "✔", "有", "TRUE", "T", "1", "对")
BOOL_FALSE: tuple[str, ...] = ("否", "N", "NO", "×", "✗", "✘", "无", "FALSE", "F", "0", "没有")
_SEX_MAP: dict[str, str] = {
    "男": "男",
    "男性": "男",
    "M": "男",
    "MALE": "男",
    "1": "男",
    "女": "女",
    "女性": "女",
    "F": "女",
    "FEMALE": "女",
    "2": "女",
}
_UNIT_SUFFIXES = "元人岁"

# Characters NFKC leaves alone but that only ever get in the way.
_ZERO_WIDTH = r"[\u200b-\u200d\u2060\ufeff]"
_DASHES = r"\-\u2010-\u2015\u2212\ufe58\ufe63"
# Middle dots people type in minority names; U+00B7 is the canonical one (U+0387 and U+FF65 fold via NFKC).
_NAME_DOTS = r"[\u2027\u2022\u30fb\u2219\u22c5\u00b7]"

_DATE_RE = (
    r"^(?:"
    # 2026-03-05, 2026/3/5, 2026.3.5, 2026年3月5日, optionally followed by a time (Excel date cells, ISO)
    r"(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*[日号]?"
    r"(?:(?:\s+|T)\d{1,2}:\d{1,2}(?::\d{1,2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?)?"
    # 20260305
    r"|(?P<cy>\d{4})(?P<cm>\d{2})(?P<cd>\d{2})"
    # Excel serial 46086 or 46086.0 (a fraction is the time of day); shorter serials only in a serial column
    r"|(?P<serial>\d{1,5})(?:\.\d+)?"
    r")$"
)
# A date known to the year or the month only: 1985, 1985年, 1985.3, 1985-03, 1985/3, 1985年3月, 198503.
_PARTIAL_RE = (
    r"^(?:(?P<y>\d{4})\s*(?:[-/.年]\s*(?P<m>\d{1,2})\s*月?|年)?|(?P<cy>\d{4})(?P<cm>\d{2}))$"
)
_PARTIAL_YEARS = (1900, 2100)  # a bare 4-digit number is a year only in this range
_YEAR_MONTH_RE = r"^(?:(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*月?|(?P<cy>\d{4})(?P<cm>\d{2}))$"
_NUMBER_RE = r"^(?P<sign>[+-]?)(?P<int>\d*)(?:\.(?P<frac>\d*))?$"
_THOUSANDS_RE = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$"


# --------------------------------------------------------------------------------------------------- helpers
_RAW = "__raw"


def _frame(series: pl.Series) -> pl.DataFrame:
    return series.cast(pl.String).to_frame(_RAW)


def _clean_expr(expr: pl.Expr) -> pl.Expr:
    """NFKC (full-width → half-width, \u3000/\xa0 → space), drop zero-width characters, strip; blank → null."""
    return expr.str.normalize("NFKC").str.replace_all(_ZERO_WIDTH, "").str.strip_chars().replace("", None)


def _flag_when_missing(value: str, cleaned: str, flag: str) -> pl.Expr:
    """`flag` where the input was not blank but no value came out, else null."""
    return pl.when(pl.col(cleaned).is_not_null() & pl.col(value).is_null()).then(pl.lit(flag))


def _struct(**fields: pl.Expr) -> pl.Expr:
    return pl.struct(*(expr.alias(name) for name, expr in fields.items()))


_FLAGGED_TEXT = pl.Struct({"value": pl.String, "flag": pl.String})
_DATE_RESULT = pl.Struct({"value": pl.Date, "flag": pl.String})
_YEAR_MONTH_RESULT = pl.Struct({"value": pl.Date, "text": pl.String, "flag": pl.String})
_ID_RESULT = pl.Struct({"value": pl.String, "status": pl.String, "birth_date": pl.Date, "sex": pl.String})


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


# ----------------------------------------------------------------------------------------------- ID numbers
def _check_digit_from_int(number: pl.Expr) -> pl.Expr:
    """Check character of a 17-digit number held in an Int64 (materialize `number` first: it is used 17x)."""
    total = pl.sum_horizontal(((number // 10 ** (16 - i)) % 10) * w for i, w in enumerate(ID_WEIGHTS))
    check = (total % 11).replace_strict(list(range(11)), list(_CHECK_CHARS), return_dtype=pl.String)
    return pl.when(number.is_not_null()).then(check)


def _check_digit_batch(series: pl.Series) -> pl.Series:
    frame = _frame(series).with_columns(
        n=pl.when(pl.col(_RAW).str.contains(r"^[0-9]{17}$")).then(pl.col(_RAW).cast(pl.Int64, strict=False))
    )
    return frame.select(_check_digit_from_int(pl.col("n"))).to_series()


def id_check_digit(first17: pl.Expr) -> pl.Expr:
    """GB 11643 check character ('0'-'9' or 'X') of the first 17 digits; null unless exactly 17 ASCII digits."""
    return first17.map_batches(_check_digit_batch, return_dtype=pl.String, is_elementwise=True)


def id_check_digit_scalar(first17: str) -> str:
    """Scalar twin of `id_check_digit` (for generators and tests); raises ValueError on anything but 17 digits."""
    return check_digit(first17)


def is_valid_id(s: str | None, as_of: dt.date | None = None) -> bool:
    """True for a canonical 18-character ID (uppercase X) with a real birth date in [1900-01-01, as_of (today)]
    and a correct check character. Scalar; for vectorized work use `normalize_id_number`."""
    if s is None or not re.fullmatch(r"[0-9]{17}[0-9X]", s):
        return False
    try:
        birth = dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return False
    return MIN_BIRTH_DATE <= birth <= (as_of or dt.date.today()) and id_check_digit_scalar(s[:17]) == s[17]


def _id_batch(series: pl.Series, min_birth: dt.date, max_birth: dt.date) -> pl.Series:
    c, f17 = pl.col("c"), pl.col("first17")
    frame = _frame(series).with_columns(
        c=pl.col(_RAW)
        .str.normalize("NFKC")
        .str.replace_all(r"[\s" + _DASHES + r"]|" + _ZERO_WIDTH, "")
        .str.to_uppercase()
        .replace("", None)
    )
    frame = frame.with_columns(
        is18=c.str.contains(r"^[0-9]{17}[0-9X]$"),
        is15=c.str.contains(r"^[0-9]{15}$"),
        # Text that can only come from a float: 3.10115E+17, or a numeric cell written out as 310101…1234.0.
        via_float=c.str.contains(_SCI_RE) | c.str.contains(r"^[0-9]{15,18}\.[0-9]*$"),
        float_exact=_float_exact(c),
    ).with_columns(
        first17=pl.when("is18")
        .then(c.str.head(17))
        .when("is15")
        .then(pl.concat_str(c.str.head(6), pl.lit("19"), c.str.slice(6, 9)))
    )
    frame = frame.with_columns(
        n=f17.cast(pl.Int64, strict=False),
        birth=f17.str.slice(6, 8).str.to_date("%Y%m%d", strict=False),
        sex_digit=f17.str.slice(16, 1).cast(pl.Int8, strict=False),
    ).with_columns(
        check=_check_digit_from_int(pl.col("n")),
        birth=pl.when(pl.col("birth").is_between(pl.lit(min_birth), pl.lit(max_birth))).then("birth"),
    )
    wrong_check = pl.col("is18") & (c.str.slice(17, 1) != pl.col("check"))
    status = (
        pl.when(c.is_null())
        .then(pl.lit("blank"))
        .when("via_float")
        .then(pl.lit("precision_lost"))
        .when(f17.is_null())
        .then(pl.lit("malformed"))
        .when(pl.col("birth").is_null())
        .then(pl.lit("invalid_date"))
        # A wrong check character on a number a float can hold exactly (every multiple of 16-128 at this size),
        # or one ending in 000 (Excel keeps 15 significant digits), is float damage, not a typo.
        .when(wrong_check & (c.str.ends_with("000") | pl.col("float_exact")))
        .then(pl.lit("precision_lost"))
        .when(wrong_check)
        .then(pl.lit("wrong_check_digit"))
        .when("is15")
        .then(pl.lit("converted_15"))
        .otherwise(pl.lit("valid"))
    )
    sex = pl.col("sex_digit")
    frame = frame.with_columns(status=status)
    lost = pl.col("status") == "precision_lost"  # its digits are not the person's: no birth date, no sex
    return frame.select(
        _struct(
            value=pl.when("is15").then(pl.concat_str(f17, pl.col("check"))).otherwise(c),
            status=pl.col("status"),
            birth_date=pl.when(~lost).then(pl.col("birth")),
            sex=pl.when(lost).then(None).when(sex % 2 == 1).then(pl.lit("男")).when(sex.is_not_null()).then(pl.lit("女")),
        )
    ).to_series()


_SCI_RE = r"^[0-9]+(?:\.[0-9]+)?E\+?[0-9]{1,2}$"


def _float_exact(c: pl.Expr) -> pl.Expr:
    """True for an 18-digit number a float64 represents exactly (above 2^53 that is 1 in 16-128 numbers)."""
    n = pl.when(c.str.contains(r"^[0-9]{18}$")).then(c.cast(pl.Int64, strict=False))
    return (n.cast(pl.Float64).cast(pl.Int64, strict=False) == n).fill_null(False)


def normalize_id_number(
    expr: pl.Expr,
    *,
    min_birth_date: dt.date = MIN_BIRTH_DATE,
    max_birth_date: dt.date | None = None,
) -> pl.Expr:
    """Resident ID → struct{value: Utf8, status: Utf8, birth_date: Date, sex: Utf8}.

    value: 18 characters for 15-digit legacy numbers (19 inserted, check character computed), else the cleaned
    input (NFKC, no spaces/dashes, uppercase) as delivered: a wrong check character is never "corrected".
    status (first that applies): blank, precision_lost (scientific notation or a float's ".0"), malformed,
    invalid_date, precision_lost (wrong check character and ending in 000 or exactly a float's value),
    wrong_check_digit, converted_15, valid.
    birth_date: from digits 7-14, null unless a real date in [min_birth_date, max_birth_date (default today)].
    sex: 男/女 from digit 17 (odd/even) whenever the number is well-formed (even with a bad date or check).
    birth_date and sex are null for precision_lost: those digits are not the person's.
    """
    func = partial(_id_batch, min_birth=min_birth_date, max_birth=max_birth_date or dt.date.today())
    return expr.map_batches(func, return_dtype=_ID_RESULT, is_elementwise=True)


# ------------------------------------------------------------------------------------------- dates, months
def _iso_date(year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Expr:
    """Date from digit strings; null for impossible dates (2026-02-30) because strptime validates them."""
    text = pl.concat_str(year, pl.lit("-"), month.str.zfill(2), pl.lit("-"), day.str.zfill(2))
    return text.str.to_date("%Y-%m-%d", strict=False)


def _with_date(frame: pl.DataFrame, cleaned: str, out: str, serial_column: bool = False) -> pl.DataFrame:
    """Add `out` (Date) parsed from the cleaned text column `cleaned`, and `out`_partial (YYYY or YYYY-MM text)
    for a date known to the year or month only.

    A bare number is an Excel serial when it has 5 digits (1927-05-18 onwards); a shorter one only when
    `serial_column` says the column's other cells are serials. Otherwise 1900-2100 is a year (partial), never
    a 1905 date. year.month (1985.3) is a partial date before it is a serial with a time of day.
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
    value = pl.coalesce(
        _iso_date(part("y"), part("m"), part("d")),
        _iso_date(part("cy"), part("cm"), part("cd")),
        pl.when(partial.is_null() & serial.is_between(1, 80000)).then((serial - _EXCEL_EPOCH_OFFSET).cast(pl.Date)),
    )
    return frame.with_columns(value.alias(out), pl.when(value.is_null()).then(partial).alias(f"{out}_partial")).drop(
        "__date_parts", "__partial"
    )


def _date_frame(series: pl.Series, serial_column: bool = False) -> pl.DataFrame:
    """Columns value (Date), value_partial (YYYY / YYYY-MM) and flag (unparsed_date / partial_date)."""
    frame = _with_date(_frame(series).with_columns(c=_clean_expr(pl.col(_RAW))), "c", "value", serial_column)
    return frame.with_columns(
        flag=pl.when(pl.col("value_partial").is_not_null())
        .then(pl.lit("partial_date"))
        .otherwise(_flag_when_missing("value", "c", "unparsed_date"))
    )


def _date_batch(series: pl.Series, serial_column: bool = False) -> pl.Series:
    return _date_frame(series, serial_column).select(_struct(value=pl.col("value"), flag=pl.col("flag"))).to_series()


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


def parse_date(expr: pl.Expr) -> pl.Expr:
    """Date in any delivered spelling → struct{value: Date, flag}; flag `unparsed_date` when
    not blank and not a real date, `partial_date` (value null) for a year or year-month alone (1985, 1985.3,
    1985年3月). Accepts 2026-03-05, 2026-3-5, 2026/3/5, 2026.3.5, 2026年3月5日, 20260305, Excel serials (5 integer
    digits, optional fraction; 1899-12-30 + n days; shorter ones only through `normalize_frame_by_type` in a
    column of serials), ISO datetimes, and full-width forms."""
    return expr.map_batches(_date_batch, return_dtype=_DATE_RESULT, is_elementwise=True)


def parse_year_month(expr: pl.Expr) -> pl.Expr:
    """Year-month → struct{value: Date (first of month), text: "1950-03", flag}. Accepts
    1950-03, 1950/3, 1950年3月, 195003, 1950.03 and any full date `parse_date` reads (the day is dropped). A bare year
    is kept as text "1950" and flagged `partial_date` (value null)."""
    return expr.map_batches(_year_month_batch, return_dtype=_YEAR_MONTH_RESULT, is_elementwise=True)


# ------------------------------------------------------------------------------------------ phone, sex, bool
def _phone_batch(series: pl.Series) -> pl.Series:
    c = pl.col("c")
    frame = _frame(series).with_columns(
        c=pl.col(_RAW)
        .str.normalize("NFKC")
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
def _canonical_batch(series: pl.Series, field_type: str, serial_column: bool = False) -> pl.Series:
    """struct{value: canonical text, flag} for one type; when flagged the value is the normalized text, except a
    partial date, whose value is what is known of it (YYYY or YYYY-MM)."""
    partial_text = pl.lit(None, dtype=pl.String)
    if field_type == "date":
        frame = _date_frame(series, serial_column).with_columns(
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
            value=pl.when(pl.col("flag").is_null())
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
    flag = pl.when(status.is_in(["malformed", "invalid_date", "wrong_check_digit", "precision_lost"])).then(status)
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
        func = partial(_canonical_batch, field_type=field_type, serial_column=serial_column)
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
        serial_share = (raw.str.contains(r"^\d{5}(?:\.\d+)?$").sum() * 2 >= raw.str.len_chars().gt(0).sum()) & raw.str.contains(
            r"^\d{5}(?:\.\d+)?$"
        ).any()
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
        damaged = ((pl.col(flag_name) == "precision_lost").any().over(list(column_key))) & (pl.col(kind) == "id_number")
        suspect = value.str.contains(r"^[0-9]{18}$") & (value.str.ends_with("000") | _float_exact(value))
        out = out.with_columns(
            pl.when(damaged & suspect.fill_null(False)).then(pl.lit("precision_lost")).otherwise(pl.col(flag_name))
            .alias(flag_name)
        )  # fmt: skip
    return out.drop(index, kind, "__serial_column")
