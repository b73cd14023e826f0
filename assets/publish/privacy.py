"""Disclosure control of one principal's product, reasoned as a set (pure logic + DuckDB SQL, no dagster).

- `derivable_violations`: a partially masked identifier must not be rebuilt from other shown columns (an ID's
  digits 7–14 are the birth date: with `partial` IDs, birth dates may be shown no finer than the policy says).
- `generalize`: the quasi-identifiers of a product (above the committee tier) are generalized, greedily
  (Datafly: the one with the most distinct values first), until every combination shown with the
  jurisdiction covers at least k persons; dates go year → 5/10/20-year bands → hidden, the others to hidden.
- `complementary_suppression`: a suppressed cell of a counts table must not be derivable from its margins:
  in every margin group (all dimensions but one) a suppressed cell never stands alone and the suppressed
  cells together hold at least k; the smallest shown cell is suppressed until that holds.
- `dimension_safe`: identifier-like values (by the element's semantic, or by their cardinality in the data)
  are never aggregate dimensions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import duckdb
import polars as pl

from assets.publish.masking import quote_ident
from assets.publish.policy import Policy
from assets.publish.policy_model import class_matches
from assets.publish.types import IDENTIFYING_SEMANTICS, Principal, Treatment

log = logging.getLogger(__name__)

_PRECISION = {"day": 0, "month": 1, "year": 2, "band": 3, "none": 4}
QI_ACTIONS = frozenset({"show", "partial", "year_only", "band"})


@dataclass(frozen=True)
class Shown:
    """One decision of the profile: where (dataset, column, element) and how (treatment)."""

    dataset: str
    column: str
    element: str | None  # the data element the column (or the row, for long tables) holds
    treatment: Treatment


def _revealed(t: Treatment, precision: str) -> str:
    if t.action == "show":
        return precision
    if t.action == "year_only":
        return "year" if _PRECISION[precision] <= _PRECISION["year"] else precision
    if t.action == "band":
        return "band"
    return "none"  # partial / keyed_hash / nullify / aggregate (cells of >= k) / hidden


def derivable_violations(policy: Policy, shown: Sequence[Shown]) -> list[str]:
    """Reasons why a partially masked identifier could be rebuilt from the other columns of this product."""
    out = []
    for d in policy.settings.derivable:
        masked = [s for s in shown if s.element == d.identifier and s.treatment.action == "partial"]
        if not masked:
            continue
        finest = "none"
        where = ""
        for part in d.parts:
            for s in shown:
                if s.element != part.element:
                    continue
                got = _revealed(s.treatment, part.precision)
                if _PRECISION[got] < _PRECISION[finest]:
                    finest, where = got, f"{s.dataset}.{s.column} ({part.element}, {s.treatment.action})"
        if _PRECISION[finest] < _PRECISION[d.finest_allowed]:
            ids = ", ".join(sorted({f"{s.dataset}.{s.column}" for s in masked}))
            out.append(
                f"{ids} shows {d.identifier} partially, hiding its {d.hidden}, but {where} shows that to the "
                f"{finest}: together they rebuild the identifier (allowed: no finer than {d.finest_allowed})"
            )
    return out


def is_identified(shown: Sequence[Shown]) -> bool:
    """Does the product hold a direct identifier in clear (then it is identified data by purpose, not k-anonymous)?"""
    return any(
        s.treatment.action == "show"
        and s.treatment.semantic in IDENTIFYING_SEMANTICS
        and (s.treatment.classification or "").split(".")[0] != "internal"
        for s in shown
    )


def is_qi(policy: Policy, t: Treatment, identified: bool) -> bool:
    """A shown attribute that narrows down who a row is: sex, dates, ethnicity … (the policy's classes). A direct
    identifier (name, ID, phone, address) is one too once masked in a de-identified product (a surname, 6+4
    digits); in an identified product (names in clear by purpose) it is the identity itself, not a QI."""
    patterns = policy.settings.k_anonymity.quasi_identifiers
    if t.action not in QI_ACTIONS or t.classification is None:
        return False
    if not any(class_matches(p, t.classification) for p in patterns):
        return False
    return not (identified and t.semantic in IDENTIFYING_SEMANTICS)


def _next_step(t: Treatment, bands: Sequence[int]) -> Treatment:
    """One step up the generalization ladder of a quasi-identifier."""
    if t.semantic == "date" and t.action in ("show", "year_only"):
        if t.action == "show":
            return replace(
                t, action="year_only", code="k_anonymity", reason=f"{t.reason}; generalized to the year"
            )
        if bands:
            return replace(t, action="band", band_years=bands[0], code="k_anonymity",
                           reason=f"{t.reason}; generalized to {bands[0]}-year bands")  # fmt: skip
    if t.action == "band":
        wider = [b for b in bands if b > t.band_years]
        if wider:
            return replace(t, band_years=wider[0], reason=t.reason.rsplit(";", 1)[0]
                           + f"; generalized to {wider[0]}-year bands")  # fmt: skip
    return replace(t, action="nullify", code="k_anonymity", reason=f"{t.reason}; hidden for k-anonymity")


@dataclass
class SubjectTable:
    """A row table about persons: where k is measured (distinct subjects per combination of shown QIs)."""

    dataset: str
    relation: str
    jurisdiction: str
    subject: str
    where: str  # rows this profile receives
    qi_columns: dict[str, str]  # column -> classification of its treatment


def generalize(
    con: duckdb.DuckDBPyConnection,
    policy: Policy,
    principal: Principal,
    tables: Sequence[SubjectTable],
    decisions: Mapping[str, Treatment],
    sql_of: Callable[[str, str, Treatment], str],
) -> tuple[dict[str, Treatment], list[str], int]:
    """Generalize the quasi-identifier classes of this profile until k holds.

    decisions: classification -> treatment now (every column or element of that class follows it).
    sql_of(dataset, column, treatment): the SQL of that column under a treatment.
    Returns (new decisions, steps taken, persons still in classes below k with some QI shown)."""
    ka = policy.settings.k_anonymity
    k = ka.k
    current = dict(decisions)
    steps: list[str] = []

    def violations() -> int:
        # one query per step over every subject table (a query's fixed cost, not its rows, dominates small products)
        parts = []
        for t in tables:
            exprs = [sql_of(t.dataset, c, current[cls]) for c, cls in t.qi_columns.items()
                     if current[cls].action in QI_ACTIONS]  # fmt: skip
            if not exprs:
                continue
            cols = ", ".join(f"{e} AS q{i}" for i, e in enumerate(exprs))
            some = " OR ".join(f"q{i} IS NOT NULL" for i in range(len(exprs)))
            subj = f"coalesce(CAST({quote_ident(t.subject)} AS VARCHAR), 'row:' || CAST(rowid AS VARCHAR))"
            groups = ", ".join(["j", *(f"q{i}" for i in range(len(exprs)))])
            parts.append(
                f"SELECT coalesce(sum(n), 0) AS v FROM (SELECT count(DISTINCT s) AS n, bool_or(any_qi) AS any_qi FROM "
                f"(SELECT {quote_ident(t.jurisdiction)} AS j, {cols}, {subj} AS s, ({some}) AS any_qi "
                f"FROM {t.relation}{t.where}) GROUP BY {groups}) WHERE n < {k} AND any_qi"
            )
        if not parts:
            return 0
        return int(con.execute(f"SELECT sum(v) FROM ({' UNION ALL '.join(parts)})").fetchall()[0][0])

    seen: dict[tuple[str, str, int], int] = {}  # only the class generalized last changes between steps

    def distinct(cls: str) -> int:
        key = (cls, current[cls].action, current[cls].band_years)
        if key not in seen:
            seen[key] = _distinct(cls)
        return seen[key]

    def _distinct(cls: str) -> int:
        parts = [f"SELECT count(DISTINCT {sql_of(t.dataset, c, current[cls])}) AS n FROM {t.relation}{t.where}"
                 for t in tables for c, c_cls in t.qi_columns.items() if c_cls == cls]  # fmt: skip
        if not parts:
            return 0
        return int(con.execute(f"SELECT max(n) FROM ({' UNION ALL '.join(parts)})").fetchall()[0][0])

    bad = violations()
    while bad:
        open_classes = [c for c, t in current.items() if t.action in QI_ACTIONS]
        if not open_classes:
            break
        target = max(open_classes, key=lambda c: (distinct(c), c))
        current[target] = _next_step(current[target], ka.year_bands)
        steps.append(f"{target} → {current[target].action}"
                     + (f" {current[target].band_years}y" if current[target].action == "band" else ""))  # fmt: skip
        bad = violations()
    if steps:
        log.debug("%s: k=%d by %s", principal.ref, k, "; ".join(steps))
    return current, steps, bad


def complementary_suppression(
    frame: pl.DataFrame, dims: Sequence[str], k: int, fixed: Sequence[str] = ()
) -> pl.Series:
    """Which cells to suppress: primary (n < k) plus secondary cells so that no suppressed cell can be derived
    from a margin (the sum over any one dimension with the others fixed), whatever totals are known.

    `fixed` dimensions are never summed over (the jurisdiction: every tier receives the same jurisdiction-level
    cells and no total across jurisdictions is published), so a jurisdiction's cells depend on its data only."""
    if frame.height == 0:
        return pl.Series("suppressed", [], dtype=pl.Boolean)
    df = frame.select([*fixed, *dims, "n"]).with_row_index("_i").with_columns(_s=pl.col("n") < k)
    changed = True
    while changed:
        changed = False
        for d in dims:
            others = [*fixed, *(c for c in dims if c != d)]
            if not others:
                others_expr = pl.lit(0).alias("_all")
                df = df.with_columns(others_expr)
                others = ["_all"]
            groups = (
                df.group_by(others)
                .agg(
                    ns=pl.col("_s").sum(),
                    sn=pl.col("n").filter(pl.col("_s")).sum(),
                    shown=(~pl.col("_s")).sum(),
                    pick=pl.col("_i")
                    .filter(~pl.col("_s"))
                    .sort_by([pl.col("n").filter(~pl.col("_s")), pl.col("_i").filter(~pl.col("_s"))])
                    .first(),
                )
                .filter(
                    (pl.col("ns") > 0) & ((pl.col("ns") == 1) | (pl.col("sn") < k)) & (pl.col("shown") > 0)
                )
            )
            if groups.height:
                picks = groups["pick"].to_list()
                df = df.with_columns(_s=pl.col("_s") | pl.col("_i").is_in(picks))
                changed = True
            if "_all" in df.columns:
                df = df.drop("_all")
    return df.sort("_i")["_s"].alias("suppressed")


def dimension_safe(semantic: str, distinct: int, rows: int, k: int) -> bool:
    """May values of this kind group counts? Never identifier-like ones: by meaning, or by being nearly unique."""
    if semantic in IDENTIFYING_SEMANTICS:
        return False
    return not (distinct > k and distinct * 2 > rows)
