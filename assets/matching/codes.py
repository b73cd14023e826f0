"""Integer codes for equality comparisons: the same answers, fewer bytes through the pair joins.

Comparing a pair reads both records' columns through two joins; a string column costs several times an
integer one there. A feature whose every use in the comparisons is equality (`l.f = r.f`, `l.f <> r.f`,
`l.f IS NULL`) gets a column `__code_f`: one integer per distinct value (exact: equal codes iff equal
values, null iff null), and the compiled SQL compares the codes. A comparison feature that the levels
never read except for its null check (a coalesce of several columns) gets a flag `__null_f` instead.

The rewrite is syntactic and deliberately narrow: only a whole comparison `l.f op r.f` (or `r.f op l.f`)
bounded by `(`, `,`, AND/OR/NOT/CASE/WHEN/THEN/ELSE on the left and `)`, `,`, AND/OR/THEN/ELSE/END on the
right, so operator precedence cannot change its meaning; a condition holding a quote or a comment is left
as written. Anything not rewritten still reads the strings, so a missed case costs speed, never answers.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

_ID = r'(?:"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_]*))'
_CMP = re.compile(rf"\b([lr])\.{_ID}\s*(=|<>|!=)\s*([lr])\.{_ID}")
_ISNULL = re.compile(rf"\b([lr])\.{_ID}\s+IS\s+NULL\b", re.IGNORECASE)
_BEFORE = re.compile(r"(?:^|[(,]|\b(?:AND|OR|NOT|CASE|WHEN|THEN|ELSE))\s*$", re.IGNORECASE)
_AFTER = re.compile(r"^\s*(?:$|[),]|(?:AND|OR|THEN|ELSE|END)\b)", re.IGNORECASE)


CODE, NULL = "__code_", "__null_"  # prefixes of the engine's own columns (as __rid, __bk_<i>)


def code_column(feature: str) -> str:
    return CODE + feature


def null_column(feature: str) -> str:
    return NULL + feature


def _name(m: re.Match, i: int) -> str:
    quoted, bare = m.group(i), m.group(i + 1)
    return quoted.replace('""', '"') if quoted is not None else bare


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _bounded(text: str, m: re.Match) -> bool:
    return bool(_BEFORE.search(text[max(0, m.start() - 12) : m.start()])) and bool(
        _AFTER.match(text[m.end() : m.end() + 8])
    )


def rewrite(sql: str, coded: Collection[str], null_flags: Collection[str] = ()) -> str:
    """`sql` with equality comparisons and null checks of `coded` features on their codes, and null checks
    of `null_flags` features on their flags."""
    if not (coded or null_flags) or "'" in sql or "--" in sql or "/*" in sql:
        return sql

    def cmp(m: re.Match) -> str:
        a, b = _name(m, 2), _name(m, 6)
        if a != b or a not in coded or m.group(1) == m.group(5) or not _bounded(m.string, m):
            return m.group(0)
        col = _q(code_column(a))
        return f"{m.group(1)}.{col} {m.group(4)} {m.group(5)}.{col}"

    def isnull(m: re.Match) -> str:
        a = _name(m, 2)
        if not _bounded(m.string, m):
            return m.group(0)
        if a in coded:
            return f"{m.group(1)}.{_q(code_column(a))} IS NULL"
        if a in null_flags:
            return f"{m.group(1)}.{_q(null_column(a))}"
        return m.group(0)

    return _ISNULL.sub(isnull, _CMP.sub(cmp, sql))


def reads(sql: str, feature: str) -> bool:
    """Whether `sql` still reads `feature` itself on a pair side (l. or r.)."""
    pattern = rf"\b[lr]\.(?:{re.escape(_q(feature))}|{re.escape(feature)}\b)"
    return re.search(pattern, sql) is not None


def choose(
    conditions: Iterable[str], candidates: Iterable[str], comparison_features: Collection[str]
) -> tuple[set[str], set[str]]:
    """(features to code, comparison features to flag): a candidate is coded when, rewritten, the compiled
    comparisons no longer read its values; a comparison feature not coded is flagged when, with its null
    check on a flag, nothing reads it."""
    conds = list(conditions)
    coded = {f for f in candidates if any(reads(c, f) for c in conds)}
    coded = {f for f in coded if not any(reads(rewrite(c, {f}), f) for c in conds)}
    flagged = {
        f
        for f in comparison_features
        if f not in coded and not any(reads(rewrite(c, coded, {f}), f) for c in conds)
    }
    return coded, flagged
