"""Resident ID numbers (GB 11643): cleaning, check character, 15 → 18 digits, and float damage.

Part of the value normalizers (assets/ingest/normalize.py re-exports the public names).
"""

from __future__ import annotations

import datetime as dt
import re
from functools import partial

import numpy as np
import polars as pl

from assets.common.gb11643 import ID_WEIGHTS, check_digit
from assets.ingest.normalize_base import (
    _CHECK_CHARS,
    _DASHES,
    _ID_RESULT,
    _ZERO_WIDTH,
    MIN_BIRTH_DATE,
    _struct,
    unwrap_text_protection,
)

# ----------------------------------------------------------------------------------------------- ID numbers
_CHECK_TABLE = pl.Series(list(_CHECK_CHARS), dtype=pl.String)


def _check_chars(number: pl.Series) -> pl.Series:
    """Check character of each 17-digit number held in an Int64 (null where `number` is null).

    Why numpy: 17 digit-by-digit integer passes in one thread cost a tenth of the same passes as polars
    expressions (each of which materializes a column and wakes the thread pool)."""
    rest = number.fill_null(0).to_numpy().astype(np.int64, copy=True)
    total = np.zeros(len(rest), dtype=np.int64)
    for weight in reversed(ID_WEIGHTS):  # last digit first
        rest, digit = np.divmod(rest, 10)
        total += digit * weight
    index = pl.Series(total % 11, dtype=pl.UInt32)
    chars = _CHECK_TABLE.gather(index)
    return pl.select(pl.when(number.is_not_null()).then(chars)).to_series()


def _check_digit_batch(series: pl.Series) -> pl.Series:
    digits = series.cast(pl.String)
    number = digits.str.contains(r"^[0-9]{17}$").fill_null(False)
    return _check_chars(pl.select(pl.when(number).then(digits.cast(pl.Int64, strict=False))).to_series())


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


# Text the cleaning below leaves as it is (ASCII digits and X only): most delivered numbers.
_ALREADY_CLEAN = r"^(?:[0-9]{15}|[0-9]{17}[0-9X])$"


def _clean_id_text(series: pl.Series) -> pl.Series:
    """NFKC, strip, unwrap ="…", no spaces/dashes/zero-width characters, upper case, a last × read as X;
    blank → null. Only the values not already clean go through these passes (NFKC alone costs ~200 ns a
    value); the others are gathered back in place."""
    raw = series.cast(pl.String)
    clean = raw.str.contains(_ALREADY_CLEAN).fill_null(True)  # (null stays null either way)
    if clean.all():
        return raw
    dirty = raw.filter(~clean)
    cleaned = (
        pl.select(
            unwrap_text_protection(pl.lit(dirty).str.normalize("NFKC").str.strip_chars())
            .str.replace_all(r"[\s" + _DASHES + r"]|" + _ZERO_WIDTH, "")
            .str.to_uppercase()
            # the check character X written as ×, ✕, Cyrillic Х or Greek Χ (Ｘ and ｘ fold by NFKC)
            .str.replace(_X_LOOKALIKES, "X")
            .replace("", None)
        )
        .to_series()
        .alias(raw.name)
    )
    return raw.scatter(np.flatnonzero(~clean.to_numpy()), cleaned)


def _id_batch(series: pl.Series, min_birth: dt.date, max_birth: dt.date) -> pl.Series:
    c, f17 = pl.col("c"), pl.col("first17")
    frame = _clean_id_text(series).to_frame("c")
    frame = frame.with_columns(
        placeholder=_is_placeholder(c),
        is18=c.str.contains(r"^[0-9]{17}[0-9X]$"),
        is15=c.str.contains(r"^[0-9]{15}$"),
        # Text that can only come from a float: 3.10115E+17, or a numeric cell written out as 310101…1234.0.
        via_float=c.str.contains(_VIA_FLOAT_RE),
    ).with_columns(
        first17=pl.when("is18")
        .then(c.str.head(17))
        .when("is15")
        .then(pl.concat_str(c.str.head(6), pl.lit("19"), c.str.slice(6, 9)))
    )
    frame = frame.with_columns(
        n=f17.cast(pl.Int64, strict=False),
        birth=f17.str.slice(6, 8).str.to_date("%Y%m%d", strict=False),
        sex_digit=(f17.cast(pl.Int64, strict=False) % 10).cast(pl.Int8),  # (17 ASCII digits when not null)
    )
    frame = frame.with_columns(
        check=_check_chars(frame["n"]),
        float_exact=_float_exact_series(frame["n"], frame["is18"], frame["c"]),
        birth=pl.when(pl.col("birth").is_between(pl.lit(min_birth), pl.lit(max_birth))).then("birth"),
    )
    wrong_check = pl.col("is18") & (c.str.slice(17, 1) != pl.col("check"))
    # The status as a small integer first (a chain of string when/then copies every string at each level),
    # spelled out once at the end; codes index _STATUSES.
    code = (
        pl.when(c.is_null())
        .then(0)  # blank
        .when("placeholder")
        .then(1)  # placeholder
        .when("via_float")
        .then(2)  # precision_lost
        .when(f17.is_null())
        .then(3)  # malformed
        .when(pl.col("birth").is_null())
        .then(4)  # invalid_date
        # A wrong check character on a number a float can hold exactly (every multiple of 16-128 at this size),
        # or one ending in 000 (Excel keeps 15 significant digits), is float damage, not a typo.
        .when(wrong_check & (c.str.ends_with("000") | pl.col("float_exact")))
        .then(2)  # precision_lost
        .when(wrong_check)
        .then(5)  # wrong_check_digit
        .when("is15")
        .then(6)  # converted_15
        .otherwise(7)  # valid
        .cast(pl.UInt32)
    )
    sex = pl.col("sex_digit")
    frame = frame.with_columns(code=code)
    # digits that are not the person's: no birth date, no sex
    lost = pl.col("code").is_between(1, 2)  # placeholder, precision_lost
    return frame.select(
        _struct(
            value=pl.when(pl.col("code") == 1)
            .then(None)
            .when("is15")
            .then(pl.concat_str(f17, pl.col("check")))
            .otherwise(c),
            status=pl.lit(_STATUSES).gather(pl.col("code")),
            birth_date=pl.when(~lost).then(pl.col("birth")),
            sex=pl.when(lost)
            .then(None)
            .when(sex % 2 == 1)
            .then(pl.lit("男"))
            .when(sex.is_not_null())
            .then(pl.lit("女")),
        )
    ).to_series()


_STATUSES = pl.Series(
    [
        "blank",
        "placeholder",
        "precision_lost",
        "malformed",
        "invalid_date",
        "wrong_check_digit",
        "converted_15",
        "valid",
    ],
    dtype=pl.String,
)
# Text only a float gives, in one regex pass: scientific notation (3.10115E+17) or a written-out float (….0).
_VIA_FLOAT_RE = r"^(?:[0-9]+(?:\.[0-9]+)?E\+?[0-9]{1,2}|[0-9]{15,18}\.[0-9]*)$"
_X_LOOKALIKES = r"[\u00d7\u2715\u2716\u0425\u0445\u03a7\u03c7]$"  # × ✕ ✖ Х х Χ χ as the last character
# What clerks type in the ID box when there is no number (compared after NFKC and upper-casing); text made
# of punctuation only (/, ?, *) and one character repeated (000000000000000000, 111111111111111111) too.
_ID_PLACEHOLDERS = (
    "无", "不详", "未知", "暂无", "空", "没有", "无证", "待补", "待查", "NULL", "NONE", "NA", "N/A", "NAN",
    "123456789012345678", "123456789123456789", "012345678901234567",
)  # fmt: skip


def _is_placeholder(c: pl.Expr) -> pl.Expr:
    """True where the cleaned ID text stands for "no number": a known stand-in word or dummy number,
    punctuation only, or one character repeated. Such a value is missing, never an identifier two records
    could share; other digit-free text (ABC) stays malformed."""
    punctuation = c.str.contains(r"^[\p{P}\p{S}]+$")
    repeated = c.str.strip_chars(c.str.head(1)) == ""
    return (punctuation | repeated | c.is_in(_ID_PLACEHOLDERS)).fill_null(False)


def _float_exact(c: pl.Expr) -> pl.Expr:
    """True for an 18-digit number a float64 represents exactly (above 2^53 that is 1 in 16-128 numbers)."""
    n = pl.when(c.str.contains(r"^[0-9]{18}$")).then(c.cast(pl.Int64, strict=False))
    return (n.cast(pl.Float64).cast(pl.Int64, strict=False) == n).fill_null(False)


def _float_exact_series(first17: pl.Series, is18: pl.Series, text: pl.Series) -> pl.Series:
    """`_float_exact` in numpy, from the parts `_id_batch` already has: `first17` is the number's first 17
    digits as Int64, `is18` marks 17 digits and a check character."""
    last = text.str.slice(17, 1).cast(pl.Int64, strict=False)  # null for X
    digits18 = (is18.fill_null(False) & last.is_not_null()).to_numpy()
    number = first17.fill_null(0).to_numpy() * 10 + last.fill_null(0).to_numpy()
    exact = number.astype(np.float64).astype(np.int64) == number
    return pl.Series(exact & digits18)


def normalize_id_number(
    expr: pl.Expr,
    *,
    min_birth_date: dt.date = MIN_BIRTH_DATE,
    max_birth_date: dt.date | None = None,
) -> pl.Expr:
    """Resident ID → struct{value: Utf8, status: Utf8, birth_date: Date, sex: Utf8}.

    value: 18 characters for 15-digit legacy numbers (19 inserted, check character computed), else the cleaned
    input (NFKC, no spaces/dashes, uppercase, a last × / Cyrillic Х read as X) as delivered: a wrong check character is never "corrected".
    status (first that applies): blank, placeholder (a stand-in such as 无, 不详, /, 000000000000000000,
    111111111111111111, 123456789012345678: value, birth_date and sex null), precision_lost (scientific notation or a float's ".0"), malformed,
    invalid_date, precision_lost (wrong check character and ending in 000 or exactly a float's value),
    wrong_check_digit, converted_15, valid.
    birth_date: from digits 7-14, null unless a real date in [min_birth_date, max_birth_date (default today)].
    sex: 男/女 from digit 17 (odd/even) whenever the number is well-formed (even with a bad date or check).
    birth_date and sex are null for precision_lost: those digits are not the person's.
    """
    func = partial(_id_batch, min_birth=min_birth_date, max_birth=max_birth_date or dt.date.today())
    return expr.map_batches(func, return_dtype=_ID_RESULT, is_elementwise=True)
