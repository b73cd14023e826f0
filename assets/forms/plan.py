"""The one-table plan (一表通): which fields are prefilled from data already collected, which forms merge.

Definitions (also in docs/forms.md):
- A form delivery is *collected* at the end of its period (月报 2026-10 → 2026-10-31, 季报 2026Q3 → 2026-09-30,
  年报 2026 → 2026-12-31, 不定期 2026-10-15 → that day).
- A fact (person, element) is *held* from the first collection of any form that asked for it with a non-empty
  value. Persons are keyed (`prefill.person_key` in plan.yaml) by the resolved person of core.person_records
  when that table exists (`auto`), else by the clean 公民身份号码: staging.form_records.id_number, or the
  value of the field matching mapped to 公民身份号码 when it passes the check digit (an ID column ingestion
  did not recognize by its label). Rows without a key are never covered.
- A cell (record r of form F, field f with catalogued element e) is *covered* (prefilled by return flow, 回流)
  when e is shareable (not 不予共享) and the person already holds e — or an element e is derivable from
  (出生日期 from 公民身份号码) — from another form G collected strictly earlier, or on the same day with
  G's code sorting before F's (so that of two same-day forms exactly one types the fact). With
  `reuse_own_earlier_periods`, F's own earlier deliveries count too. A cell is also covered when e is derivable
  from another field of the same record that holds a value (出生日期 computed from the ID typed beside it).
- A field is `prefill` for a committee when at least `min_coverage` of the committee's rows are covered,
  else `type`; a form is fully prefillable for a committee when all its fields are `prefill`.
- Candidate elements (no reviewed sharing attribute yet), review rows and not-element fields never prefill.
- Two forms are merge candidates when their element sets (catalogued and candidate) have Jaccard ≥ jaccard_min
  or one is a subset of the other, with the same frequency and target when so configured; a form merges into
  the larger partner (more elements, then lower code), and chains resolve to their root.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata

import duckdb
import polars as pl

from assets.common import warehouse
from assets.forms import plan_sql
from assets.forms.dictionary import MergeSettings, PlanSettings
from assets.forms.matching import id_check_ok

NOT_SHAREABLE = "不予共享"


def period_bounds(period: str | None) -> tuple[dt.date, dt.date] | None:
    """(start, end) of a contract period: 2026-10, 2026Q3, 2026, 2026-10-15; None if unreadable."""
    text = (period or "").strip()
    try:
        if m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text):
            day = dt.date(int(m[1]), int(m[2]), int(m[3]))
            return day, day
        if m := re.fullmatch(r"(\d{4})-(\d{2})", text):
            y, mo = int(m[1]), int(m[2])
            return dt.date(y, mo, 1), dt.date(y, mo, calendar.monthrange(y, mo)[1])
        if m := re.fullmatch(r"(\d{4})Q([1-4])", text):
            y, q = int(m[1]), int(m[2])
            last = q * 3
            return dt.date(y, last - 2, 1), dt.date(y, last, calendar.monthrange(y, last)[1])
        if m := re.fullmatch(r"(\d{4})", text):
            return dt.date(int(m[1]), 1, 1), dt.date(int(m[1]), 12, 31)
    except ValueError:
        return None
    return None


def periods_frame(periods: list[str]) -> pl.DataFrame:
    rows = [(p, *b) for p in sorted(set(periods)) if (b := period_bounds(p)) is not None]
    return pl.DataFrame(
        rows, schema={"period": pl.String, "period_start": pl.Date, "period_end": pl.Date}, orient="row"
    )


def window_months(periods: pl.DataFrame) -> int:
    """Calendar months from the earliest period start to the latest period end, inclusive (at least 1).

    Year periods (年报 `2025`) are left out when shorter periods exist: a report on last year would otherwise
    stretch the window that 不定期 deliveries are counted over."""
    if periods.is_empty():
        return 1
    shorter = periods.filter(~pl.col("period").str.contains(r"^\d{4}$"))
    periods = shorter if shorter.height else periods
    start, end = periods["period_start"].min(), periods["period_end"].max()
    return max(1, (end.year - start.year) * 12 + end.month - start.month + 1)


def _field_table(form_fields: pl.DataFrame, elements: pl.DataFrame) -> pl.DataFrame:
    """Catalog fields with the element the plan may use (catalogued + mapped only), sharing and derivations."""
    el = elements.select("element_code", "status", "sharing", "derivable_from").rename(
        {"status": "element_status"}
    )
    return (
        form_fields.select("form_code", "field_order", "field_label", "element_code", "status")
        .join(el, on="element_code", how="left")
        .with_columns(
            pl.when((pl.col("status") == "mapped") & (pl.col("element_status") == "catalogued"))
            .then(pl.col("element_code"))
            .otherwise(None)
            .alias("plan_element"),
            pl.col("derivable_from").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        )
    )


PLAN_SCHEMA = {
    "form_code": pl.String,
    "committee_code": pl.String,
    "district_code": pl.String,
    "township_code": pl.String,
    "field_order": pl.Int64,
    "field_label": pl.String,
    "element_code": pl.String,
    "mapping_status": pl.String,
    "sharing": pl.String,
    "deliveries": pl.Int64,
    "rows": pl.Int64,
    "rows_covered": pl.Int64,
    "rows_returned": pl.Int64,
    "rows_derived": pl.Int64,
    "coverage": pl.Float64,
    "status": pl.String,
    "reason": pl.String,
    "source_forms": pl.List(pl.String),
}


def person_keys(
    con: duckdb.DuckDBPyConnection, settings: PlanSettings, records: pl.DataFrame, fields: pl.DataFrame
) -> pl.DataFrame:
    """record_id → person: the resolved person (core.person_records) or the clean ID number."""
    mode = settings.prefill.person_key
    has_er = warehouse.table_exists(con, "core.person_records") and (
        warehouse.count_rows(con, "core.person_records") > 0
    )
    if mode == "person_records" or (mode == "auto" and has_er):
        return warehouse.read_frame(
            con,
            "SELECT record_id, any_value(CAST(person_id AS VARCHAR)) AS person FROM core.person_records GROUP BY 1",
        )
    keys = records.select("record_id", pl.col("id_number").alias("person"))
    id_fields = fields.filter(pl.col("plan_element") == ID_ELEMENT).select("form_code", "field_order")
    missing = records.filter(pl.col("id_number").is_null()).select("record_id", "form_code")
    if id_fields.is_empty() or missing.is_empty():
        return keys
    con.register("_id_fields", id_fields.to_arrow())
    con.register("_missing", missing.to_arrow())
    try:
        found = warehouse.read_frame(
            con,
            "SELECT v.record_id, coalesce(v.value, v.value_raw) AS raw FROM staging.form_values v "
            "JOIN _missing m USING (record_id) JOIN _id_fields f ON f.form_code = v.form_code "
            "AND f.field_order = v.field_order",
        )
    finally:
        con.unregister("_id_fields")
        con.unregister("_missing")
    found = (
        found.with_columns(pl.col("raw").map_elements(_clean_id, return_dtype=pl.String).alias("found"))
        .filter(pl.col("found").is_not_null())
        .unique("record_id", keep="first")
        .select("record_id", "found")
    )
    return (
        keys.join(found, on="record_id", how="left")
        .with_columns(pl.coalesce("person", "found").alias("person"))
        .select("record_id", "person")
    )


ID_ELEMENT = "citizen_id"


def _clean_id(raw: str | None) -> str | None:
    """An 18-digit ID that passes the check digit, upper-cased; None otherwise."""
    text = "".join(unicodedata.normalize("NFKC", raw or "").split()).upper()
    return text if len(text) == 18 and id_check_ok(text) else None


def attach_status(plan: pl.DataFrame, fields: pl.DataFrame, settings: PlanSettings) -> pl.DataFrame:
    """Reason codes, from the most basic: not_element, review, candidate, not_shareable, first_collection,
    low_coverage; prefilled fields say derived, return_flow or return_flow+derived."""
    joined = plan.join(
        fields.select(
            "form_code",
            "field_order",
            "field_label",
            "element_code",
            "status",
            "element_status",
            "sharing",
            "plan_element",
        ).rename({"status": "mapping_status"}),
        on=["form_code", "field_order"],
        how="left",
    )
    ok = pl.col("coverage") >= settings.prefill.min_coverage
    reason = (
        pl.when(pl.col("mapping_status") == "not_element")
        .then(pl.lit("not_element"))
        .when(pl.col("mapping_status") == "review")
        .then(pl.lit("in_review"))
        .when(pl.col("element_status") == "candidate")
        .then(pl.lit("candidate_element"))
        .when(pl.col("plan_element").is_null())
        .then(pl.lit("unmapped"))
        .when(pl.col("sharing") == NOT_SHAREABLE)
        .then(pl.lit("not_shareable"))
        .when(pl.col("rows_covered") == 0)
        .then(pl.lit("first_collection"))
        .when(~ok)
        .then(pl.lit("low_coverage"))
        .when(pl.col("rows_returned") == 0)
        .then(pl.lit("derived"))
        .when(pl.col("rows_derived") == 0)
        .then(pl.lit("return_flow"))
        .otherwise(pl.lit("return_flow+derived"))
    )
    return joined.with_columns(
        pl.when(ok & (pl.col("rows_covered") > 0))
        .then(pl.lit("prefill"))
        .otherwise(pl.lit("type"))
        .alias("status"),
        reason.alias("reason"),
    )


def prefill_plan(
    con: duckdb.DuckDBPyConnection, settings: PlanSettings, form_fields: pl.DataFrame, elements: pl.DataFrame
) -> pl.DataFrame:
    """marts.prefill_plan with statuses: (form, committee, field) → rows, coverage, prefill|type, reason."""
    fields = _field_table(form_fields, elements)
    records = keyed_records(con, settings, fields)
    return plan_for(con, settings, fields, records.with_columns(pl.lit(True).alias("in_scope")))


def keyed_records(
    con: duckdb.DuckDBPyConnection, settings: PlanSettings, fields: pl.DataFrame
) -> pl.DataFrame:
    """Staged records of a committee with their person key (see `person_keys`)."""
    records = warehouse.read_frame(
        con,
        "SELECT record_id, form_code, committee_code, district_code, township_code, period, id_number "
        "FROM staging.form_records WHERE committee_code IS NOT NULL",
    )
    return records.join(person_keys(con, settings, records, fields), on="record_id", how="left").drop(
        "id_number"
    )


def plan_for(
    con: duckdb.DuckDBPyConnection, settings: PlanSettings, fields: pl.DataFrame, records: pl.DataFrame
) -> pl.DataFrame:
    """Plan rows of the committees of the records flagged `in_scope`. The other records given are those of
    the same persons elsewhere: they only say which facts a person already holds."""
    raw = build_prefill_plan_raw(con, settings, fields, records)
    out = attach_status(raw, fields, settings)
    return (
        out.select(list(PLAN_SCHEMA)).cast(PLAN_SCHEMA).sort(["form_code", "committee_code", "field_order"])
    )


def build_prefill_plan_raw(
    con: duckdb.DuckDBPyConnection, settings: PlanSettings, fields: pl.DataFrame, records: pl.DataFrame
) -> pl.DataFrame:
    """The SQL part: per (form, committee, field) rows and covered rows."""
    periods = periods_frame(records["period"].unique().to_list())
    sources = (
        fields.filter(pl.col("plan_element").is_not_null())
        .select("form_code", "field_order", "plan_element", "derivable_from")
        .with_columns(
            pl.concat_list(pl.col("plan_element"), pl.col("derivable_from")).alias("source_element")
        )
        .explode("source_element")
        .select(
            "form_code",
            "field_order",
            "source_element",
            (pl.col("source_element") == pl.col("plan_element")).alias("is_self"),
        )
    )
    names = {
        "_rec0": records,
        "_periods": periods,
        "_fields": fields.drop("derivable_from"),
        "_sources": sources,
    }
    for name, frame in names.items():
        con.register(name, frame.to_arrow())
    try:
        plan = plan_sql.plan_counts(con, settings.prefill.reuse_own_earlier_periods)
    finally:
        for name in names:
            con.unregister(name)
    return plan.with_columns((pl.col("rows_covered") / pl.col("rows")).round(4).alias("coverage"))


# ── overlap and merges ──────────────────────────────────────────────────────────────────────────────────

OVERLAP_SCHEMA = {
    "form_a": pl.String,
    "form_b": pl.String,
    "n_elements_a": pl.Int64,
    "n_elements_b": pl.Int64,
    "n_shared": pl.Int64,
    "shared_elements": pl.List(pl.String),
    "jaccard": pl.Float64,
    "a_subset_of_b": pl.Boolean,
    "b_subset_of_a": pl.Boolean,
    "same_frequency": pl.Boolean,
    "same_target": pl.Boolean,
    "merge_candidate": pl.Boolean,
}


def element_sets(form_fields: pl.DataFrame) -> dict[str, set[str]]:
    """Each form's elements: catalogued and candidate (review and not-element fields are left out)."""
    usable = form_fields.filter(
        pl.col("status").is_in(["mapped", "candidate"]) & pl.col("element_code").is_not_null()
    )
    return {f: set(part["element_code"].to_list()) for (f,), part in usable.group_by("form_code")}


def form_overlap(form_fields: pl.DataFrame, forms: pl.DataFrame, merge: MergeSettings) -> pl.DataFrame:
    """catalog.form_overlap: every pair of forms sharing at least one element, with Jaccard and merge flag."""
    sets = element_sets(form_fields)
    info = {r["form_code"]: r for r in forms.iter_rows(named=True)}
    codes = sorted(sets)
    rows = []
    for i, a in enumerate(codes):
        for b in codes[i + 1 :]:
            shared = sets[a] & sets[b]
            if not shared:
                continue
            jac = len(shared) / len(sets[a] | sets[b])
            a_in_b, b_in_a = sets[a] <= sets[b], sets[b] <= sets[a]
            same_freq = info.get(a, {}).get("frequency") == info.get(b, {}).get("frequency")
            same_target = info.get(a, {}).get("target") == info.get(b, {}).get("target")
            similar = jac >= merge.jaccard_min or (merge.allow_subset and (a_in_b or b_in_a))
            cand = (
                similar and (same_freq or not merge.same_frequency) and (same_target or not merge.same_target)
            )
            rows.append(
                (a, b, len(sets[a]), len(sets[b]), len(shared), sorted(shared), round(jac, 4), a_in_b, b_in_a,
                 same_freq, same_target, cand)
            )  # fmt: skip
    return pl.DataFrame(rows, schema=OVERLAP_SCHEMA, orient="row")


def merge_targets(overlap: pl.DataFrame) -> dict[str, tuple[str, float]]:
    """form → (root form it merges into, Jaccard with its direct partner). Forms merge into the larger
    partner (more elements, then lower code), so no two forms merge into each other; chains resolve."""
    size: dict[str, int] = {}
    best: dict[str, tuple[str, float, int]] = {}
    for r in overlap.filter(pl.col("merge_candidate")).iter_rows(named=True):
        a, b = r["form_a"], r["form_b"]
        size[a], size[b] = r["n_elements_a"], r["n_elements_b"]
        big, small = (a, b) if (r["n_elements_a"], b) > (r["n_elements_b"], a) else (b, a)
        cur = best.get(small)
        if cur is None or (r["jaccard"], size[big], cur[0]) > (cur[1], cur[2], big):
            best[small] = (big, r["jaccard"], size[big])
    out: dict[str, tuple[str, float]] = {}
    for form, (target, jac, _) in best.items():
        root, seen = target, {form}
        while root in best and root not in seen:
            seen.add(root)
            root = best[root][0]
        out[form] = (root, jac)
    return out
