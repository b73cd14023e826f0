"""Shared vocabulary, patterns and helpers of the value normalizers (see assets/ingest/normalize.py).

Split out so the ID and date normalizers can live in modules of their own; nothing here is public API
beyond the vocabularies, which normalize.py re-exports.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from assets.common import vocabulary
from assets.common.gb11643 import CHECK_CHARS

# The vocabularies are the project's contract (assets/common/vocabulary.py); re-exported for the normalizers.
FIELD_TYPES = vocabulary.FIELD_TYPES
ID_STATUSES = vocabulary.ID_STATUSES
FLAGS = vocabulary.VALUE_FLAGS

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
    # 85.3.7, 85-03-07, 85/3/7, 85年3月7日, 4.1.11 (2004, written y % 100): a two-digit year, its century
    # chosen by the run date (see TWO_DIGIT_YEAR_RULE); six bare digits stay a year-month (198503), never a date
    r"|(?P<yy>\d{1,2})\s*[-/.年]\s*(?P<ym>\d{1,2})\s*[-/.月]\s*(?P<yd>\d{1,2})\s*[日号]?"
    # Excel serial 46086 or 46086.0 (a fraction is the time of day); shorter serials only in a serial column
    r"|(?P<serial>\d{1,5})(?:\.\d+)?"
    r")$"
)
# A date known to the year or the month only: 1985, 1985年, 1985.3, 1985-03, 1985/3, 1985年3月, 198503.
_PARTIAL_RE = r"^(?:(?P<y>\d{4})\s*(?:[-/.年]\s*(?P<m>\d{1,2})\s*月?|年)?|(?P<cy>\d{4})(?P<cm>\d{2}))$"
# A two-digit year (85.3.7) is 20yy when that date is not after the run date, else 19yy: a recorded date
# (a birth date above all) never lies in the future. The value is flagged `two_digit_year`.
TWO_DIGIT_YEAR_RULE = "20yy if not after the run date, else 19yy"
_PARTIAL_YEARS = (1900, 2100)  # a bare 4-digit number is a year only in this range
_YEAR_MONTH_RE = r"^(?:(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*月?|(?P<cy>\d{4})(?P<cm>\d{2}))$"
_NUMBER_RE = r"^(?P<sign>[+-]?)(?P<int>\d*)(?:\.(?P<frac>\d*))?$"
_THOUSANDS_RE = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$"


# --------------------------------------------------------------------------------------------------- helpers
_RAW = "__raw"


def _frame(series: pl.Series) -> pl.DataFrame:
    return series.cast(pl.String).to_frame(_RAW)


def unwrap_text_protection(expr: pl.Expr) -> pl.Expr:
    """Undo what exports do to keep Excel off a value: ="310…" formula text and a leading ' apostrophe.

    Applied after NFKC (so ＝＂…＂ is caught too) and a strip; the delivered text stays in value_raw.
    """
    return expr.str.replace(r'^=\s*"(.*)"$', "${1}").str.replace(r"^'", "").str.strip_chars()


def _clean_expr(expr: pl.Expr) -> pl.Expr:
    """NFKC (full-width → half-width, \u3000/\xa0 → space), drop zero-width characters, strip, unwrap ="…" /
    a leading '; blank → null."""
    stripped = expr.str.normalize("NFKC").str.replace_all(_ZERO_WIDTH, "").str.strip_chars()
    return unwrap_text_protection(stripped).replace("", None)


def _flag_when_missing(value: str, cleaned: str, flag: str) -> pl.Expr:
    """`flag` where the input was not blank but no value came out, else null."""
    return pl.when(pl.col(cleaned).is_not_null() & pl.col(value).is_null()).then(pl.lit(flag))


def _struct(**fields: pl.Expr) -> pl.Expr:
    return pl.struct(*(expr.alias(name) for name, expr in fields.items()))


_FLAGGED_TEXT = pl.Struct({"value": pl.String, "flag": pl.String})
_DATE_RESULT = pl.Struct({"value": pl.Date, "flag": pl.String})
_YEAR_MONTH_RESULT = pl.Struct({"value": pl.Date, "text": pl.String, "flag": pl.String})
_ID_RESULT = pl.Struct({"value": pl.String, "status": pl.String, "birth_date": pl.Date, "sex": pl.String})
