"""Compile a match spec to DuckDB SQL: blocking joins, comparison levels (gamma), match weights.

Records live in a table with an integer key `__rid` (rank of the record id, so the SQL never depends on
input order). Pairs always have rid_l < rid_r.
"""

from __future__ import annotations

import math
from collections.abc import Collection

from assets.matching import codes
from assets.matching.levels import KINDS, q
from assets.matching.spec import Comparison, Level, MatchSpec

__all__ = ["block_cap_statements", "block_key_columns", "blocking_sql", "gamma_expr", "gamma_select", "q"]


def level_condition(spec: MatchSpec, comp: Comparison, level: Level) -> str:
    """The level's condition on l./r., from its kind (assets/matching/levels.py)."""
    return KINDS[level.kind].sql(level.feature or comp.feature, level)


def table_codes(columns: Collection[str]) -> tuple[set[str], set[str]]:
    """(coded features, null-flagged features) of a record table, from its column names (codes.py)."""
    cols = set(columns)
    coded = {c.removeprefix(codes.CODE) for c in cols if c.startswith(codes.CODE)}
    flagged = {c.removeprefix(codes.NULL) for c in cols if c.startswith(codes.NULL)}
    return coded & cols, flagged & cols


def gamma_expr(spec: MatchSpec, comp: Comparison, columns: Collection[str] = ()) -> str:
    """CASE expression giving the level index (0 = first listed) or -1 when the feature is null.
    `columns`: the record table's columns; equality on features with integer codes compares the codes."""
    if columns:
        return codes.rewrite(gamma_expr(spec, comp), *table_codes(columns))
    f = q(comp.feature)
    parts = [f"CASE WHEN l.{f} IS NULL OR r.{f} IS NULL THEN -1"]
    for i, level in enumerate(comp.levels):
        if level.kind == "else":
            parts.append(f"ELSE {i}")
        else:
            parts.append(f"WHEN {level_condition(spec, comp, level)} THEN {i}")
    parts.append("END")
    return " ".join(parts)


def gamma_select(spec: MatchSpec) -> str:
    return ",\n  ".join(
        f"CAST({gamma_expr(spec, comp)} AS TINYINT) AS {q('g_' + comp.name)}" for comp in spec.comparisons
    )


def weight_expr(spec: MatchSpec, weights: dict[str, list[float]], prior_log2: float, alias: str = "") -> str:
    """Sum of log2 Bayes factors plus the prior log-odds, from the gamma columns."""
    terms = [repr(float(prior_log2))]
    for comp in spec.comparisons:
        col = alias + q("g_" + comp.name)
        cases = " ".join(f"WHEN {i} THEN {w!r}" for i, w in enumerate(weights[comp.name]) if math.isfinite(w))
        terms.append(f"(CASE {col} {cases} ELSE 0.0 END)")
    return " + ".join(terms)


def block_key_columns(spec: MatchSpec) -> list[str]:
    """Per plain rule i, `__bk_i`: a 64-bit hash of the rule's key values (null when a key is null).

    Joins and exclusions then compare one integer instead of several strings."""
    out = []
    for i, rule in enumerate(spec.blocking):
        if rule.masked_windows is None:
            keys = [q(k) for k in rule.keys]
            notnull = " AND ".join(f"{k} IS NOT NULL" for k in keys)
            out.append(f"CASE WHEN {notnull} THEN hash({', '.join(keys)}) END AS __bk_{i}")
    return out


def block_cap_statements(spec: MatchSpec, table: str) -> list[str]:
    """Blank the block key of records in blocks larger than `max_block_size` (a placeholder phone number,
    a nursing-home address): such a key neither pairs records nor excludes a pair later."""
    out = []
    for i, rule in enumerate(spec.blocking):
        if rule.masked_windows is None and rule.max_block_size:
            out.append(
                f"UPDATE {table} SET __bk_{i} = NULL WHERE __bk_{i} IN (SELECT __bk_{i} FROM {table} "
                f"WHERE __bk_{i} IS NOT NULL GROUP BY 1 HAVING count(*) > {rule.max_block_size})"
            )
    return out


def _generated_by(i: int) -> str:
    return f"coalesce(l.__bk_{i} = r.__bk_{i}, false)"


def training_rules(spec: MatchSpec) -> set[int]:
    """The blocking rules whose pairs train m (EM sessions read their bits, nothing else does)."""
    est = spec.estimation
    names = set(est.em_blocking or [r.name for r in spec.blocking if r.masked_windows is None])
    return {i for i, r in enumerate(spec.blocking) if r.name in names}


def _plain_mask(spec: MatchSpec, i: int) -> str:
    """The training-rule bits of a pair that plain rule i generates: its own bit; none of the earlier plain
    rules (such pairs are skipped) nor any masked-window rule (whose bit is "this rule generated it");
    a later plain rule's bit when the pair meets it (key and filter)."""
    terms = ["0"]
    for j in sorted(training_rules(spec)):
        rule = spec.blocking[j]
        if j == i:
            terms.append(str(1 << j))
        elif j > i and rule.masked_windows is None:
            cond = f"l.__bk_{j} = r.__bk_{j}" + (f" AND ({rule.filter})" if rule.filter else "")
            terms.append(f"CASE WHEN coalesce({cond}, false) THEN {1 << j} ELSE 0 END")
    return " + ".join(terms)


def _masked_mask(spec: MatchSpec) -> str:
    """The training-rule bits of a masked-window pair (column `rule`: the first masked rule finding it)."""
    terms = ["0"] + [
        f"CASE WHEN rule = {j} THEN {1 << j} ELSE 0 END"
        for j in sorted(training_rules(spec))
        if spec.blocking[j].masked_windows is not None
    ]
    return " + ".join(terms)


def blocking_sql(spec: MatchSpec, table: str, restrict_new: bool) -> str:
    """One SELECT rid_l, rid_r, rule, __mask giving every candidate pair once, with the bit mask of the
    training rules it meets (computed here, where the block keys are at hand, not by a later join).

    As in Splink, each plain rule skips the pairs an earlier rule generates (an integer comparison of
    block keys), so no de-duplication of millions of pairs is needed. (A 64-bit hash collision could
    skip a pair: with ~10^7 pairs the chance is ~10^-12.) Masked-window rules, whose pairs are few and
    found in several windows, skip the pairs of every plain rule and are de-duplicated on their own.
    With `restrict_new`, at least one side of each pair is a new record (column `__new`)."""
    newcond = " AND (l.__new OR r.__new)" if restrict_new else ""
    plain = [i for i, r in enumerate(spec.blocking) if r.masked_windows is None]
    parts: list[str] = []
    masked: list[str] = []
    for i, rule in enumerate(spec.blocking):
        extra = f" AND ({rule.filter})" if rule.filter else ""
        if rule.masked_windows is not None:
            skip = "".join(f" AND NOT {_generated_by(j)}" for j in plain)
            masked.append(_masked_pairs(spec, i, table, newcond + skip, extra))
            continue
        skip = "".join(f" AND NOT {_generated_by(j)}" for j in plain if j < i)
        src = f"(SELECT * FROM {table} WHERE __bk_{i} IS NOT NULL)"
        parts.append(
            f"SELECT l.__rid AS rid_l, r.__rid AS rid_r, {i} AS rule, ({_plain_mask(spec, i)}) AS __mask "
            f"FROM {src} l JOIN {src} r "
            f"ON l.__bk_{i} = r.__bk_{i} AND l.__rid < r.__rid{newcond}{extra}{skip}"
        )
    if masked:
        union = " UNION ALL ".join(masked)
        found = f"SELECT rid_l, rid_r, min(rule) AS rule FROM ({union}) GROUP BY rid_l, rid_r"
        parts.append(f"SELECT rid_l, rid_r, rule, ({_masked_mask(spec)}) AS __mask FROM ({found})")
    return " UNION ALL ".join(parts)


def masked_table(i: int) -> str:
    """The table of value pairs (`__a` < `__b`) of masked-window rule i (pairs.masked_value_pairs)."""
    return f"__mw_{i}"


def _masked_pairs(spec: MatchSpec, i: int, table: str, paircond: str, extra: str) -> str:
    """Record pairs of masked-window rule i: its key-value pairs (found before, see
    pairs.masked_value_pairs) expanded to the records holding them. The rule's filter may use the key and
    its companions only (e.g. `l.id__valid`), which are the same for every record holding a value, so it is
    checked here on records as it would be on values."""
    key = q(spec.blocking[i].keys[0])
    return (
        f"SELECT least(l.__rid, r.__rid) AS rid_l, greatest(l.__rid, r.__rid) AS rid_r, {i} AS rule "
        f"FROM {masked_table(i)} vp JOIN {table} l ON l.{key} = vp.__a JOIN {table} r ON r.{key} = vp.__b "
        f"WHERE TRUE{extra}{paircond}"
    )
