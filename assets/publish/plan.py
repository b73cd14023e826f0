"""The policy compiler: one profile's (tier, department, purpose) decisions for every dataset, checked as a set,
then staged as treated tables in memory (sliced per principal by `writer.py`).

Per profile:
1. resolve every column (and, in long tables, every element's rows) with `Policy.resolve`; a row of a sensitive
   roster (`membership`) is data of the roster's class: shown in rows only to tiers that see that class in rows;
2. check the product as a set (`privacy.py`): no partially masked identifier rebuilt from other columns (else
   the whole product is denied with the reason); quasi-identifiers of de-identified products generalized to k;
3. stage the row tables (golden values only when delivered inside the jurisdiction) and the counts tables
   (identifier-like values never a dimension; primary and complementary suppression).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import duckdb

from assets.publish import privacy
from assets.publish.binding import BoundDataset
from assets.publish.masking import quote_ident, quote_literal, treatment_sql
from assets.publish.policy import Policy
from assets.publish.scope import Stats, prefix_filter
from assets.publish.types import TIER_DIGITS, ColumnOut, Denial, Principal, TablePlan, Treatment

SUPPRESSED_SUFFIX = "_suppressed"


@dataclass
class Decisions:
    """What one profile gets of one bound dataset."""

    b: BoundDataset
    fixed: dict[str, Treatment]
    per_row_cols: list[str]
    per_elem: dict[str, dict[str | None, Treatment]]
    row_elems: list[str] = field(default_factory=list)
    agg_elems: list[str] = field(default_factory=list)
    agg_forms: list[str] = field(default_factory=list)  # sensitive rosters: counts only
    hidden_forms: list[str] = field(default_factory=list)  # rows in no table at all


def profile_label(principal: Principal) -> str:
    return f"{principal.tier.value}/{principal.department or '-'}/{principal.purpose or '-'}"


def _summarize(per_element: Mapping[str | None, Treatment]) -> str:
    return "; ".join(
        f"{e or '∅'}:{t.action}" for e, t in sorted(per_element.items(), key=lambda x: x[0] or "")
    )


def _in_list(column: str, values: list[str]) -> str:
    return f"{quote_ident(column)} IN ({', '.join(quote_literal(v) for v in values)})" if values else "false"


def _group_counts(con: duckdb.DuckDBPyConnection, b: BoundDataset, column: str) -> dict[str | None, int]:
    rows = con.execute(f"SELECT {quote_ident(column)}, count(*) FROM {b.relation} GROUP BY 1").fetchall()
    return {(None if k is None else str(k)): int(n) for k, n in rows}


class Compiler:
    """Compiles and stages one profile. `forms`: roster form_code -> membership level (binding). `bound` may be
    scoped to one jurisdiction (`scope.py`); `stats` then still describe every row."""

    def __init__(self, con: duckdb.DuckDBPyConnection, policy: Policy, bound: list[BoundDataset],
                 forms: Mapping[str, str], stats: Stats | None = None, prefix: str | None = None) -> None:  # fmt: skip
        self.con, self.policy, self.bound, self.forms, self.prefix = con, policy, bound, dict(forms), prefix
        self.stats = stats or Stats({b.name: b for b in bound})
        self._form_rows = self.stats.form_rows

    # ------------------------------------------------------------------------------------ resolve
    def resolve(self, principal: Principal, n: int) -> tuple[list[Decisions], list[Denial]]:
        policy, denials, out = self.policy, [], []
        prof = {
            "tier": principal.tier.value,
            "department": principal.department,
            "purpose": principal.purpose,
        }

        def deny(scope: str, ds: str, t: Treatment, **kw: object) -> None:
            denials.append(Denial(scope, ds, t.code, t.reason, principals=n, **prof, **kw))  # type: ignore[arg-type]

        for b in self.bound:
            ds = b.spec
            if ds.sharing is None:
                deny(
                    "dataset",
                    ds.name,
                    policy.resolve(principal, ds.name, ds.jurisdiction or b.column_names[0]),
                )
                continue
            if ds.jurisdiction is not None:
                jt = policy.resolve(principal, ds.name, ds.jurisdiction)
                if jt.action != "show":
                    if jt.code == "not_shared":
                        deny("dataset", ds.name, jt)
                    else:
                        denials.append(Denial("dataset", ds.name, "jurisdiction_not_shown",
                                              f"the jurisdiction column {ds.jurisdiction} must be shown "
                                              f"({jt.action}: {jt.reason})", principals=n, **prof))  # type: ignore[arg-type]  # fmt: skip
                    continue
            per_row = [c for c in b.column_names if (s := ds.columns.get(c)) is not None and s.element_from]
            d = Decisions(b, {}, per_row, {c: {} for c in per_row})
            for col in b.column_names:
                if col in per_row:
                    continue
                t = policy.resolve(principal, ds.name, col)
                d.fixed[col] = t
                if not t.visible and t.action != "aggregate":
                    deny("column", ds.name, t, column=col, rows_affected=b.rows)
            if ds.driver is not None:
                for elem, rows in sorted(b.element_rows.items(), key=lambda x: x[0] or ""):
                    ts = {c: policy.resolve(principal, ds.name, c, elem) for c in per_row}
                    for c, t in ts.items():
                        d.per_elem[c][elem] = t
                    if elem is not None and all(t.visible for t in ts.values()):
                        d.row_elems.append(elem)
                    elif elem is not None and any(t.action == "aggregate" for t in ts.values()):
                        d.agg_elems.append(elem)
                    else:
                        worst = next(t for t in ts.values() if not t.visible)
                        deny(
                            "element",
                            ds.name,
                            worst,
                            column=",".join(per_row),
                            element=elem,
                            rows_affected=rows,
                        )
            if ds.membership is not None and self.forms:
                if ds.name not in self._form_rows:
                    self._form_rows[ds.name] = _group_counts(
                        self.con, self.stats.full[ds.name], ds.membership
                    )
                counts = self._form_rows[ds.name]
                for form, level in sorted(self.forms.items()):
                    if form not in counts:
                        continue
                    t = policy.resolve_membership(principal, ds.name, level)
                    if t.visible:
                        continue
                    if t.action == "aggregate":
                        d.agg_forms.append(form)
                        why = f"rows of roster {form} are {level} data ({t.reason}): published only as counts"
                    else:
                        d.hidden_forms.append(form)
                        why = f"rows of roster {form} are {level} data: {t.action} ({t.reason})"
                    denials.append(Denial("rows", ds.name, "sensitive_roster", why, column=ds.membership,
                                          rows_affected=counts[form], principals=n, **prof))  # type: ignore[arg-type]  # fmt: skip
            out.append(d)
        return out, denials

    # ------------------------------------------------------------------------------- set checks
    def shown(self, decisions: list[Decisions]) -> list[privacy.Shown]:
        out = []
        for d in decisions:
            for col, t in d.fixed.items():
                if t.visible:
                    out.append(privacy.Shown(d.b.name, col, self.policy.column_element(d.b.spec, col), t))
            for col in d.per_row_cols:
                for elem in d.row_elems:
                    out.append(privacy.Shown(d.b.name, col, elem, d.per_elem[col][elem]))
        return out

    def row_filter(self, d: Decisions) -> str:
        parts = []
        if d.b.spec.driver is not None:
            parts.append(_in_list(d.b.spec.driver, d.row_elems))
        if d.b.spec.membership and (d.agg_forms or d.hidden_forms):
            col = quote_ident(d.b.spec.membership)
            parts.append(
                f"({col} IS NULL OR NOT {_in_list(d.b.spec.membership, d.agg_forms + d.hidden_forms)})"
            )
        return (" WHERE " + " AND ".join(parts)) if parts else ""

    def k_anonymize(self, principal: Principal, decisions: list[Decisions]) -> list[str]:
        """Generalize quasi-identifiers (uniformly per class across the product) until k holds."""
        ka = self.policy.settings.k_anonymity
        shown = self.shown(decisions)
        if principal.tier not in ka.tiers:
            return []
        identified = privacy.is_identified(shown)
        classes: dict[str, Treatment] = {}
        for s in shown:
            if privacy.is_qi(self.policy, s.treatment, identified):
                classes.setdefault(str(s.treatment.classification), s.treatment)
        if not classes:
            return []
        tables = []
        for d in decisions:
            spec = d.b.spec
            if spec.subject is None or spec.jurisdiction is None:
                continue
            qi = {
                c: str(t.classification)
                for c, t in d.fixed.items()
                if privacy.is_qi(self.policy, t, identified)
            }
            if qi:  # a stored table (k counts rows by rowid), narrowed to this jurisdiction by the WHERE
                where = self.row_filter(d)
                if self.prefix:
                    mine = prefix_filter(spec.jurisdiction, self.prefix)
                    where = f"{where} AND {mine}" if where else f" WHERE {mine}"
                tables.append(privacy.SubjectTable(d.b.name, self.stats.full[d.b.name].relation, spec.jurisdiction,
                                                   spec.subject, where, qi))  # fmt: skip
        tables += self._long_subject_tables(principal, decisions, identified)
        by_name = {d.b.name: d for d in decisions}

        def sql_of(dataset: str, col: str, t: Treatment) -> str:
            ctype = "VARCHAR" if dataset.startswith("pivot:") else by_name[dataset].b.column_type(col)
            return treatment_sql(t.action, quote_ident(col), t.semantic, ctype, band_years=t.band_years)

        new, steps, _ = privacy.generalize(self.con, self.policy, principal, tables, classes, sql_of)
        for t in tables:
            if t.dataset.startswith("pivot:"):
                self.con.execute(f"DROP TABLE IF EXISTS {t.relation}")

        def apply(t: Treatment) -> Treatment:
            g = new.get(str(t.classification)) if t.visible else None
            if g is None or (g.action, g.band_years) == (t.action, t.band_years):
                return t
            return replace(t, action=g.action, band_years=g.band_years, code=g.code,
                           reason=f"{t.reason}; k-anonymity (k={ka.k}): {g.action}"
                           + (f" {g.band_years}-year bands" if g.action == "band" else ""))  # fmt: skip

        for d in decisions:
            d.fixed = {c: apply(t) for c, t in d.fixed.items()}
            d.per_elem = {c: {e: (apply(t) if e in d.row_elems else t) for e, t in m.items()}
                          for c, m in d.per_elem.items()}  # fmt: skip
        return steps

    def _long_subject_tables(self, principal: Principal, decisions: list[Decisions],
                             identified: bool) -> list[privacy.SubjectTable]:  # fmt: skip
        """A long table's quasi-identifiers, one row per record (its values pivoted by class) and its person
        (through person_records when bound), so k is measured on what a reader can assemble per record."""
        links = next((self.stats.full[b.name].relation for b in self.bound  # every link, not one jurisdiction's
                      if {"person_id", "record_id"} <= set(b.column_names)
                      and b.spec.driver is None and b.spec.jurisdiction), None)  # fmt: skip
        out = []
        for i, d in enumerate(decisions):
            ds = d.b.spec
            if ds.driver is None or ds.jurisdiction is None or "record_id" not in d.b.column_names:
                continue
            col = next(iter(d.per_row_cols), None)
            by_class: dict[str, list[str]] = {}
            for e in d.row_elems:
                t = d.per_elem[col][e] if col else None
                if t is not None and privacy.is_qi(self.policy, t, identified):
                    by_class.setdefault(str(t.classification), []).append(e)
            if not by_class or col is None:
                continue
            picks = ", ".join(f"max(CAST(v.{quote_ident(col)} AS VARCHAR)) FILTER (WHERE {_in_list(ds.driver, els)}) "
                              f"AS {quote_ident('q:' + c)}" for c, els in by_class.items())  # fmt: skip
            subject = "CAST(v.record_id AS VARCHAR)"
            join = ""
            if links is not None:
                join = f" LEFT JOIN (SELECT DISTINCT record_id, person_id FROM {links}) AS pr ON pr.record_id = v.record_id"
                subject = f"coalesce(CAST(pr.person_id AS VARCHAR), {subject})"
            pivot = f"memory.main.{quote_ident(f'_kpivot_{i}_{ds.name}')}"
            self.con.execute(
                f"CREATE OR REPLACE TABLE {pivot} AS SELECT any_value(v.{quote_ident(ds.jurisdiction)}) AS j, "
                f"any_value({subject}) AS subject, {picks} FROM (SELECT * FROM {d.b.relation}{self.row_filter(d)}) "
                f"AS v{join} GROUP BY v.record_id"
            )
            out.append(privacy.SubjectTable(f"pivot:{ds.name}", pivot, "j", "subject", "",
                                            {f"q:{c}": c for c in by_class}))  # fmt: skip
        return out

    # ---------------------------------------------------------------------------------- staging
    def _golden(self, d: Decisions, col: str, expr: str, principal: Principal) -> str:
        """A golden value is shown only if it was delivered inside the principal's jurisdiction."""
        b, spec = d.b, d.b.spec
        element = self.policy.column_element(spec, col)
        if spec.golden is None or b.lineage is None or element is None or spec.jurisdiction is None:
            return expr
        return f"CASE WHEN {self._lineage_exists(d, principal, element, col)} THEN {expr} END"

    def _lineage_exists(
        self, d: Decisions, principal: Principal, element: str | None, col: str | None
    ) -> str:
        spec = d.b.spec
        assert spec.golden is not None and spec.jurisdiction is not None
        digits = TIER_DIGITS[principal.tier]
        cond = [f"l.key = CAST(s.{quote_ident(spec.golden.key)} AS VARCHAR)",
                f"left(l.committee_code, {digits}) = left(CAST(s.{quote_ident(spec.jurisdiction)} AS VARCHAR), {digits})"]  # fmt: skip
        if element is not None and col is not None:
            cond += [
                f"l.element_code = {quote_literal(element)}",
                f"l.value = trim(CAST(s.{quote_ident(col)} AS VARCHAR))",
            ]
        hidden = d.agg_forms + d.hidden_forms or list(self._all_hidden_rosters(principal, spec.name))
        if hidden:
            cond.append(
                f"(l.form_code IS NULL OR l.form_code NOT IN ({', '.join(quote_literal(f) for f in hidden)}))"
            )
        return f"EXISTS (SELECT 1 FROM {d.b.lineage} AS l WHERE {' AND '.join(cond)})"

    def _all_hidden_rosters(self, principal: Principal, dataset: str) -> list[str]:
        """Rosters whose rows this profile may not see (used by golden datasets without a form column)."""
        out = []
        for form, level in self.forms.items():
            t = self.policy.resolve_membership(principal, dataset, level)
            if not t.visible:
                out.append(form)
        return sorted(out)

    def stage_rows(self, d: Decisions, principal: Principal, idx: int) -> TablePlan | None:
        b, ds = d.b, d.b.spec
        exprs, outs = [], []
        for col, ctype in b.columns:
            q = quote_ident(col)
            if col in d.per_row_cols:
                if not d.row_elems:
                    continue
                branches = " ".join(
                    f"WHEN {quote_literal(e)} THEN "
                    + treatment_sql(
                        t.action, f"s.{q}", t.semantic, ctype, as_text=True, band_years=t.band_years
                    )
                    for e in d.row_elems
                    for t in [d.per_elem[col][e]]
                )
                exprs.append(f"CASE s.{quote_ident(ds.driver or '')} {branches} END AS {q}")
                outs.append(ColumnOut(col, "by_element", "element",
                                      _summarize({e: d.per_elem[col][e] for e in d.row_elems})))  # fmt: skip
                continue
            t = d.fixed[col]
            if t.visible:
                expr = treatment_sql(t.action, f"s.{q}", t.semantic, ctype, band_years=t.band_years)
                if t.action != "nullify":
                    expr = self._golden(d, col, expr, principal)
                exprs.append(f"{expr} AS {q}")
                outs.append(ColumnOut(col, t.action, t.classification, t.reason))
        if not exprs or (ds.driver is not None and not d.row_elems):
            return None
        where = self.row_filter(d)
        if ds.golden is not None and d.b.lineage is not None and ds.jurisdiction is not None:
            keep = self._lineage_exists(d, principal, None, None)
            where = f"{where} AND {keep}" if where else f" WHERE {keep}"
        # not staged: the writer's one CREATE TABLE AS runs this SELECT straight into the product file (a row
        # table is read by nothing else), instead of copying every row into memory first
        staged = f"(SELECT {', '.join(exprs)} FROM {b.relation} AS s{where})"
        return TablePlan(
            ds.name, ds.name, "reference" if ds.reference else "rows", staged, ds.jurisdiction, outs
        )

    def stage_counts(self, d: Decisions, principal: Principal, idx: int) -> TablePlan | None:
        b, ds, policy, k = d.b, d.b.spec, self.policy, self.policy.min_cell
        agg_fixed = [c for c, t in d.fixed.items() if t.action == "aggregate"]
        if not (agg_fixed or d.agg_elems or d.agg_forms) or ds.aggregate is None or ds.jurisdiction is None:
            return None
        jcol, driver = ds.jurisdiction, ds.driver
        g = max(ds.aggregate.jurisdiction_digits, TIER_DIGITS[principal.tier])
        dims: list[tuple[str, str]] = []
        outs = [ColumnOut("jurisdiction_code", "show", "internal", f"left({jcol}, {g})")]
        for col in ds.aggregate.by:
            if col != jcol and col in d.fixed and d.fixed[col].action == "show":
                dims.append((col, quote_ident(col)))
                outs.append(ColumnOut(col, "show", d.fixed[col].classification, d.fixed[col].reason))
        if (
            driver is not None
            and (d.agg_elems or d.agg_forms)
            and d.fixed.get(driver)
            and d.fixed[driver].action == "show"
        ):
            if driver not in [c for c, _ in dims]:
                dims.append((driver, quote_ident(driver)))
                outs.append(ColumnOut(driver, "show", d.fixed[driver].classification, d.fixed[driver].reason))
        for col in agg_fixed:
            spec, t = ds.columns.get(col), d.fixed[col]
            if spec is None or not spec.aggregate_dimension:
                continue
            nd, n = self.stats.column(self.con, b.name, col)
            if privacy.dimension_safe(t.semantic, nd, n, k):
                dims.append((col, f"CAST({quote_ident(col)} AS VARCHAR)"))
                outs.append(ColumnOut(col, "aggregate", t.classification, t.reason))
        safe: list[str] | None = None  # elements whose values may group counts (categorical ones)
        if driver is not None and (d.agg_elems or d.agg_forms):
            for col in d.per_row_cols:
                spec = ds.columns.get(col)
                if spec is None or not spec.aggregate_dimension:
                    continue
                stats = self.stats.elements(self.con, b.name, col)
                safe = sorted(e for e, (nd, n) in stats.items()
                              if privacy.dimension_safe(policy.column_class(ds, col, e)[1], nd, n, k))  # fmt: skip
                expr = f"CASE WHEN {_in_list(driver, safe)} THEN CAST({quote_ident(col)} AS VARCHAR) END"
                dims.append((col, expr))
                outs.append(ColumnOut(col, "aggregate", "element",
                                      "values of categorical elements only; identifier-like values never group counts"))  # fmt: skip
        outs.append(ColumnOut("n", "count", None, f"count(*); cells below {k}, and cells that would let them be "
                              "derived from a margin, are suppressed"))  # fmt: skip
        conds = []
        if d.agg_elems and driver is not None:
            conds.append(_in_list(driver, d.agg_elems))
        if d.agg_forms and ds.membership:  # a roster's rows, of the elements this tier may see at all
            visible = f" AND {_in_list(driver, d.row_elems)}" if driver is not None else ""
            conds.append(f"({_in_list(ds.membership, d.agg_forms)}{visible})")
        if agg_fixed:
            conds = []  # the aggregate columns are counted over every row
        where = f" WHERE ({' OR '.join(conds)})" if conds else ""
        if safe is not None and driver is not None:  # identifier-like elements are not counted at all
            where += (" AND " if where else " WHERE ") + _in_list(driver, safe)
        if d.hidden_forms and ds.membership:
            m = ds.membership
            where += (
                " AND " if where else " WHERE "
            ) + f"({quote_ident(m)} IS NULL OR NOT {_in_list(m, d.hidden_forms)})"
        dim_sql = "".join(f", {expr} AS {quote_ident(name)}" for name, expr in dims)
        # ordered: which of two equal cells complementary suppression picks must not depend on thread timing
        full = self.con.sql(f"SELECT left({quote_ident(jcol)}, {g}) AS jurisdiction_code{dim_sql}, count(*) AS n "
                            f"FROM {b.relation}{where} GROUP BY ALL ORDER BY ALL").pl()  # fmt: skip
        mask = privacy.complementary_suppression(full, [n for n, _ in dims], k, fixed=["jurisdiction_code"])
        kept = full.filter(~mask) if full.height else full  # noqa: F841 (scanned by name below)
        dropped = (
            full.filter(mask).select("jurisdiction_code") if full.height else full.select("jurisdiction_code")
        )  # noqa: F841
        staged = f"memory.main.{quote_ident(f'_p{idx}_{ds.name}_counts')}"
        small = f"memory.main.{quote_ident(f'_a{idx}_{ds.name}{SUPPRESSED_SUFFIX}')}"
        self.con.register("_kept_cells", kept)
        self.con.register("_dropped_cells", dropped)
        try:
            self.con.execute(f"CREATE OR REPLACE TABLE {staged} AS SELECT * FROM _kept_cells ORDER BY ALL")
            self.con.execute(
                f"CREATE OR REPLACE TABLE {small} AS SELECT jurisdiction_code FROM _dropped_cells"
            )
        finally:
            self.con.unregister("_kept_cells")
            self.con.unregister("_dropped_cells")
        return TablePlan(f"{ds.name}_counts", ds.name, "counts", staged, "jurisdiction_code", outs, small)


def resolve_profile(
    comp: Compiler, principal: Principal, n_principals: int
) -> tuple[list[Decisions] | None, list[Denial]]:
    """One profile's decisions (same for every principal of the profile) and what they deny; None when the
    product as a whole fails the set checks (a `reidentification_risk` denial says why)."""
    decisions, denials = comp.resolve(principal, n_principals)
    prof = {"tier": principal.tier.value, "department": principal.department, "purpose": principal.purpose}
    problems = privacy.derivable_violations(comp.policy, comp.shown(decisions))
    if problems:
        for why in problems:
            denials.append(Denial("principal", None, "reidentification_risk",
                                  f"{profile_label(principal)}: product denied: {why}",
                                  principals=n_principals, **prof))  # type: ignore[arg-type]  # fmt: skip
        return None, denials
    return decisions, denials


def plan_principal(comp: Compiler, principal: Principal, decisions: list[Decisions], idx: int,
                   rows_from: Callable[[list[str]], list[BoundDataset]] | None = None,
                   ) -> tuple[list[TablePlan], list[str]]:  # fmt: skip
    """Stage one principal's treated tables from `comp`'s (scoped) datasets: k-anonymity is decided on the
    rows this principal receives. Returns the plans and the generalization steps taken.

    `rows_from(steps)`, when given, returns the datasets the row tables are staged from once the steps are known
    (`pieces.py`: only the partitions that changed); counts and k are still computed on every row of the scope."""
    mine = [replace(d, b=next(b for b in comp.bound if b.name == d.b.name)) for d in decisions]
    steps = comp.k_anonymize(principal, mine)
    rows_bound = {b.name: b for b in rows_from(steps)} if rows_from is not None else {}
    tables: list[TablePlan] = []
    for d in mine:
        dr = replace(d, b=rows_bound[d.b.name]) if d.b.name in rows_bound else d
        for plan in (comp.stage_rows(dr, principal, idx), comp.stage_counts(d, principal, idx)):
            if plan is not None:
                tables.append(plan)
    return tables, steps
