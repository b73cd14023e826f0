"""Comparison level kinds: each kind owns its parameters, the feature types it accepts, the companion
columns it reads, and its SQL (as Splink's comparison-level library does).

A level is compared on `l.<f>` / `r.<f>`, the feature of its comparison (or the level's own `feature`).
Adding a kind is one entry here; the spec validates against it and the SQL compiler calls it.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
# `aliases: nicknames`: English given names and their nicknames (William/Bill, Susan/Sue), the public
# hand-curated list of the `nicknames` package (github.com/carltonnorthern/nicknames).
BUILTIN_ALIASES = ("nicknames",)


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
    # An edit distance is at least the difference in length: a cheap test first (most random pairs fail it).
    lf, rf = _lr(f)
    return f"(abs(length({lf}) - length({rf})) <= {lv.max} AND levenshtein({lf}, {rf}) <= {lv.max})"


def _dlev(f: str, lv: Any) -> str:
    lf, rf = _lr(f)
    return f"(abs(length({lf}) - length({rf})) <= {lv.max} AND damerau_levenshtein({lf}, {rf}) <= {lv.max})"


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


def alias_column(feature: str, source: str) -> str:
    """The `__rec` column holding, per record, the aliases of its `feature` value (lower case)."""
    return f"__al_{feature}_" + hashlib.sha1(source.encode("utf-8")).hexdigest()[:10]


def _alias(f: str, lv: Any) -> str:
    # The two values are listed as aliases of each other (a nickname and its full name): different
    # strings, the same person's name. Case-insensitive. Each record carries its value's alias list
    # (prepare_levels), so a pair costs a list lookup, not a join. With `max: k`, one side may also be
    # up to k edits (Damerau-Levenshtein) from an alias of the other (a nickname with a typo: THOMAS / OTM).
    lf, rf = _lr(f)
    col = q(alias_column(f, lv.aliases))
    cond = f"coalesce(list_contains(l.{col}, lower({rf})), false)"
    if lv.max:
        for a, b in ((f"l.{col}", rf), (f"r.{col}", lf)):
            cond += (
                f" OR coalesce(len(list_filter({a}, lambda x: damerau_levenshtein(x, lower({b})) <= {lv.max})) > 0,"
                " false)"
            )
    return f"({cond})"


def _alias_pairs(source: str) -> Iterable[tuple[str, str]]:
    if source == "nicknames":
        from importlib.resources import files

        text = files("nicknames").joinpath("names.csv").read_text(encoding="utf-8")
        rows = csv.reader(text.splitlines())
        return [(r[0], r[2]) for r in rows if len(r) == 3 and r[1] == "has_nickname"]
    path = Path(source)
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or len(rows[0]) < 2:
        raise ValueError(f"{path}: an alias list is a CSV with two columns (name, alias)")
    return [(r[0], r[1]) for r in rows[1:] if len(r) >= 2 and r[0].strip() and r[1].strip()]


def prepare_levels(con: Any, spec: Any, table: str = "__rec") -> None:
    """Give each record the alias lists its `alias` levels read (a column per feature and list)."""
    import pyarrow as pa

    wanted = {
        (lv.feature or comp.feature, lv.aliases)
        for comp in spec.comparisons
        for lv in comp.levels
        if lv.kind == "alias"
    }
    for feature, source in sorted(wanted):
        groups: dict[str, set[str]] = {}
        for a, b in _alias_pairs(source):
            a, b = a.strip().lower(), b.strip().lower()
            if a and b and a != b:
                groups.setdefault(a, set()).add(b)
                groups.setdefault(b, set()).add(a)
        keys = sorted(groups)
        alias_lists = pa.table({"a": keys, "bs": [sorted(groups[k]) for k in keys]})  # noqa: F841
        log.info("alias list %s: %d names", source, len(keys))
        col = q(alias_column(feature, source))
        con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {col} VARCHAR[]")
        con.execute(
            f"UPDATE {table} SET {col} = g.bs FROM alias_lists g WHERE lower({table}.{q(feature)}) = g.a"
        )


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
    "alias": Kind(_alias, needs="aliases"),
    "sql": Kind(_sql, needs="condition"),
    "else": Kind(_else),
}
