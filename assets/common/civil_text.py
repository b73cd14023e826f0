"""Chinese civil text for comparison: traditional → simplified, names and addresses in one form.

Built on ingestion's vectorized normalizers (assets/ingest/normalize.py: NFKC full-width → half-width,
whitespace, the middle dot of minority names) and OpenCC's traditional → simplified table. Everything
works per distinct value or per distinct character, so a million rows cost what their vocabulary costs.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import numpy as np
import polars as pl

from assets.ingest.normalize import normalize_name
from assets.ingest.normalize_base import _ZERO_WIDTH

# Character variants OpenCC keeps (both are "simplified") that addresses spell either way.
# Every dash a keyboard or a word processor's autocorrect types between building and room (4—501, 4–501,
# 4‐501, 4−501) reads as '-': removed as punctuation, 100—501 would become the different address 100501.
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2e3a\u2e3b"
_ADDRESS_VARIANTS = {"衖": "弄", "號": "号", "：": ":", **dict.fromkeys(_DASHES, "-")}
# Administrative prefixes a resident may or may not write: province, city, district/county, township.
# A municipality is often written without 市 (上海徐汇区): stripped only where a district follows, so the
# road 上海路 keeps its name.
_DISTRICT = r"\p{Han}{1,3}(?:新区|区|县)"
_ADMIN_PREFIX = (
    r"^(?:\p{Han}{2,3}(?:省|自治区))?"
    rf"(?:(?:北京|上海|天津|重庆){_DISTRICT}|(?:\p{{Han}}{{2,3}}市)?(?:{_DISTRICT})?)"
    r"(?:\p{Han}{2,5}?(?:街道|镇|乡))?"
)
# Building and room, written 4号501, 4号楼501, 4栋501, 4幢501, 4号-501 or 4-501: one form, 4号501. A bare
# a-b is read so only at the end and after a non-digit (弄2-301), never in 1-2-301 (lane-building-room).
# Each rewrite comes with the text a value must contain for the pattern to match at all: only those values
# go through the regex.
_BUILDING_ROOM = (
    (r"(\d+)(?:栋|幢|号楼)-?", "${1}号", ("栋", "幢", "号楼")),
    (r"(\d+)号-(\d+)", "${1}号${2}", ("号-",)),
    (r"(^|[^\d-])(\d+)-(\d+)(室?)$", "${1}${2}号${3}${4}", ("-",)),
)
# What the address rules remove anyway, so ingestion's text cleaning beyond NFKC (strip, ="…" and '
# unwrapping, whitespace runs) need not run first: whitespace and punctuation except '-'.
_DROPPED = r"[\s\p{P}\p{S}&&[^-]]+"


def _rewrite_where(text: pl.Series, needles: tuple[str, ...], pattern: str, replacement: str) -> pl.Series:
    """`text.str.replace_all(pattern, replacement)`, run only on the values containing one of `needles`
    (without one the pattern cannot match): a literal scan is several times cheaper than the regex."""
    hit = text.str.contains_any(list(needles)).fill_null(False)
    if not hit.any():
        return text
    changed = text.filter(hit).str.replace_all(pattern, replacement)
    return text.scatter(np.flatnonzero(hit.to_numpy()), changed)


@lru_cache(maxsize=1)
def _t2s():
    import opencc  # imported on first use: only the matching transforms need it

    return opencc.OpenCC("t2s")


def _distinct_chars(values: pl.Series) -> list[str]:
    """The distinct non-ASCII characters of `values`, in code point order. Why not set("".join(...)):
    a Python object per character costs ~0.1 s on 200k addresses; a bincount over the UTF-32 code
    points of the joined text costs a tenth of that."""
    text = values.drop_nulls().str.join("").item()
    if not text:
        return []
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    points = points[points >= 128]
    if not len(points):
        return []
    present = np.flatnonzero(np.bincount(points))
    return [chr(p) for p in present]


def _nfkc_unstable(chars: list[str]) -> list[str]:
    """Those of `chars` (distinct, non-ASCII) whose presence means NFKC may change a text: the ones
    polars' own NFKC changes, and every mark, unassigned character (to Python's Unicode table) or Hangul
    jamo, which may compose with the character before it. A text made only of the other characters (and
    ASCII) is its own NFKC form."""
    if not chars:
        return []
    series = pl.Series(chars, dtype=pl.String)
    changed = (series.str.normalize("NFKC") != series).to_list()
    jamo = ((0x1100, 0x11FF), (0xA960, 0xA97F), (0xD7B0, 0xD7FF))
    return [
        c
        for c, moved in zip(chars, changed, strict=True)
        if moved
        or unicodedata.category(c)[0] == "M"
        or unicodedata.category(c) == "Cn"
        or unicodedata.combining(c)
        or any(lo <= ord(c) <= hi for lo, hi in jamo)
    ]


def nfkc(values: pl.Series) -> pl.Series:
    """`str.normalize("NFKC")`, run only on the values holding a character it may change (NFKC costs
    ~250 ns a value; most addresses are already in NFKC form)."""
    return _nfkc_and_chars(values)[0]


def _nfkc_and_chars(values: pl.Series) -> tuple[pl.Series, list[str]]:
    """`nfkc(values)` and a superset of its distinct non-ASCII characters (for to_simplified: a character
    listed but absent changes nothing there), from one scan of the text instead of two."""
    chars = _distinct_chars(values)
    unstable = _nfkc_unstable(chars)
    if not unstable:
        return values, chars
    hit = values.str.contains_any(unstable).fill_null(False)
    normalized = values.filter(hit).str.normalize("NFKC")
    chars = sorted(set(chars) | set(_distinct_chars(normalized)))
    return values.scatter(np.flatnonzero(hit.to_numpy()), normalized), chars


def to_simplified(values: pl.Series, chars: list[str] | None = None) -> pl.Series:
    """Traditional → simplified, character by character (張偉 → 张伟, 歐陽 → 欧阳): one OpenCC call on the
    distinct characters, then one Aho-Corasick pass over the column. `chars`, when the caller knows them: a
    sorted superset of the distinct non-ASCII characters of `values`."""
    chars = _distinct_chars(values) if chars is None else chars
    if not chars:
        return values
    converted = _t2s().convert("\n".join(chars)).split("\n")
    pairs = {c: s for c, s in zip(chars, converted, strict=True) if s != c and len(s) == 1}
    if not pairs:
        return values
    return values.str.replace_many(list(pairs), list(pairs.values()))


def person_name(values: pl.Series) -> pl.Series:
    """A name as one comparable string: ingestion's name rules (NFKC, 张 伟 → 张伟, ‧ • ・ → ·), then
    simplified characters, no whitespace at all (Latin names too), upper case."""
    text = pl.select(normalize_name(pl.lit(values.cast(pl.String)))).to_series()
    return (
        to_simplified(text)
        .str.replace_all(r"\s+", "")
        .str.to_uppercase()
        .replace("", None)
        .alias(values.name)
    )


def address(values: pl.Series, strip_prefixes: tuple[str, ...] = ()) -> pl.Series:
    """An address as one comparable string: NFKC, simplified, no whitespace or punctuation except
    the '-' of 1-2-301, variant characters unified (衖 → 弄), building-room forms unified (4号楼501, 4栋501,
    4号-501, 弄4-501 → 4号501; 5幢 → 5号), a trailing 室 dropped, the given prefixes and then any
    province/city (上海 without 市 too)/district/township prefix stripped."""
    # NFKC and zero-width characters as ingestion's normalize_text; its other steps are subsumed by _DROPPED
    text, chars = _nfkc_and_chars(values.cast(pl.String))
    text = to_simplified(text.str.replace_all(_ZERO_WIDTH, ""), chars)
    text = text.str.replace_many(list(_ADDRESS_VARIANTS), list(_ADDRESS_VARIANTS.values()))
    text = text.str.replace_all(_DROPPED, "")
    for prefix in sorted(strip_prefixes, key=len, reverse=True):
        text = text.str.strip_prefix(prefix)
    text = text.str.replace(_ADMIN_PREFIX, "")
    for pattern, replacement, needles in _BUILDING_ROOM:
        text = _rewrite_where(text, needles, pattern, replacement)
    room = text.str.ends_with("室").fill_null(False)  # (\d+)室$ needs a last 室
    if room.any():
        text = text.scatter(
            np.flatnonzero(room.to_numpy()), text.filter(room).str.replace(r"(\d+)室$", "${1}")
        )
    return text.replace("", None).alias(values.name)
