"""Comparison level kinds: each kind owns its parameters, the feature types it accepts, the companion
columns it reads, and its SQL (as Splink's comparison-level library does).

A level is compared on `l.<f>` / `r.<f>`, the feature of its comparison (or the level's own `feature`).
Adding a kind is one entry here; the spec validates against it and the SQL compiler calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def q(name: str) -> str:
    """Quote an identifier."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Kind:
    sql: Callable[[str, Any], str]  # (feature name, level) -> condition on l./r.
    needs: str | None = None  # the level parameter it requires
    feature_types: tuple[str, ...] | None = None  # accepted feature transforms (None: any)
    companions: tuple[str, ...] = ()  # companion columns read (feature + "__" + c)


def _lr(f: str) -> tuple[str, str]:
    return f"l.{q(f)}", f"r.{q(f)}"


def _exact(f: str, lv: Any) -> str:
    lf, rf = _lr(f)
    return f"{lf} = {rf}"


def _pinyin(f: str, lv: Any) -> str:
    return f"l.{q(f + '__py')} = r.{q(f + '__py')}"


def _jw(f: str, lv: Any) -> str:
    lf, rf = _lr(f)
    return f"jaro_winkler_similarity({lf}, {rf}) >= {lv.min}"


def _jaro(f: str, lv: Any) -> str:
    lf, rf = _lr(f)
    return f"jaro_similarity({lf}, {rf}) >= {lv.min}"


def _lev(f: str, lv: Any) -> str:
    lf, rf = _lr(f)
    return f"levenshtein({lf}, {rf}) <= {lv.max}"


def _dlev(f: str, lv: Any) -> str:
    lf, rf = _lr(f)
    return f"damerau_levenshtein({lf}, {rf}) <= {lv.max}"


def _date_diff(f: str, lv: Any) -> str:
    lf, rf = _lr(f)
    return f"abs(date_diff('day', {lf}, {rf})) <= {lv.max_days}"


def _prefix(f: str, lv: Any) -> str:
    lf, rf = _lr(f)
    return f"left(CAST({lf} AS VARCHAR), {lv.length}) = left(CAST({rf} AS VARCHAR), {lv.length})"


def _id_check_digit(f: str, lv: Any) -> str:
    # Same first 17 digits: the only difference is the check character (one side is invalid).
    lf, rf = _lr(f)
    return f"left({lf}, 17) = left({rf}, 17)"


def _id_one_edit(f: str, lv: Any) -> str:
    # One substituted digit or two adjacent digits swapped in the body, and not both numbers valid:
    # GB 11643's check digit catches every such typo, so two valid numbers one edit apart are two
    # different people (twins are typically one sequence digit apart).
    lf, rf = _lr(f)
    return (
        f"NOT (l.{q(f + '__valid')} AND r.{q(f + '__valid')}) "
        f"AND damerau_levenshtein(left({lf}, 17), left({rf}, 17)) = 1"
    )


def _id_both_valid(f: str, lv: Any) -> str:
    return f"l.{q(f + '__valid')} AND r.{q(f + '__valid')}"


def _sql(f: str, lv: Any) -> str:
    return f"({lv.condition})"


def _else(f: str, lv: Any) -> str:
    return "TRUE"


ID = ("id_number",)
KINDS: dict[str, Kind] = {
    "exact": Kind(_exact),
    "pinyin_equal": Kind(_pinyin, feature_types=("text", "name"), companions=("py",)),
    "jaro_winkler": Kind(_jw, needs="min"),
    "jaro": Kind(_jaro, needs="min"),
    "levenshtein": Kind(_lev, needs="max"),
    "damerau_levenshtein": Kind(_dlev, needs="max"),
    "date_diff": Kind(_date_diff, needs="max_days", feature_types=("date", "sql")),
    "prefix": Kind(_prefix, needs="length"),
    "id_check_digit": Kind(_id_check_digit, feature_types=ID, companions=("valid",)),
    "id_one_edit": Kind(_id_one_edit, feature_types=ID, companions=("valid",)),
    "id_both_valid": Kind(_id_both_valid, feature_types=ID, companions=("valid",)),
    "sql": Kind(_sql, needs="condition"),
    "else": Kind(_else),
}
