"""The forms steps on a warehouse connection, one function per table (no dagster here).

Each `build_*` reads its inputs from the warehouse and the schemas/ files *at call time*, so a changed synonym,
override or threshold changes the tables on the next materialization without a code change. `defs.py` calls
these and writes the results; tests call them on a tiny DuckDB file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from assets.common import warehouse
from assets.forms import burden, matching, plan, plan_delta
from assets.forms.dictionary import (
    DICTIONARY_PATH,
    MATCHING_PATH,
    OVERRIDES_PATH,
    PLAN_PATH,
    PlanSettings,
    load_dictionary,
    load_matching_settings,
    load_overrides,
    load_plan_settings,
)


@dataclass(frozen=True)
class SchemaPaths:
    """Where the forms settings live; tests point these at copies."""

    dictionary: Path = DICTIONARY_PATH
    overrides: Path = OVERRIDES_PATH
    matching: Path = MATCHING_PATH
    plan: Path = PLAN_PATH


@dataclass(frozen=True)
class MatchingResult:
    data_elements: pl.DataFrame
    form_fields: pl.DataFrame
    field_review: pl.DataFrame


def catalog_fields(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return warehouse.read_frame(
        con,
        "SELECT form_code, CAST(field_order AS BIGINT) AS field_order, field_label, field_type "
        "FROM catalog.form_catalog_fields ORDER BY form_code, field_order",
    )


def build_matching(con: duckdb.DuckDBPyConnection, schemas: SchemaPaths = SchemaPaths()) -> MatchingResult:
    """catalog.form_fields, catalog.field_review and catalog.data_elements from the catalog and staged values."""
    dictionary = load_dictionary(schemas.dictionary)
    overrides = load_overrides(dictionary, schemas.overrides)
    settings = load_matching_settings(schemas.matching)
    fields = catalog_fields(con)
    profiles = matching.load_profiles(con)
    form_fields = matching.match_catalog(fields, dictionary, overrides, settings, profiles)
    return MatchingResult(
        data_elements=matching.elements_table(dictionary, form_fields),
        form_fields=form_fields,
        field_review=matching.review_table(form_fields),
    )


def write_matching(con: duckdb.DuckDBPyConnection, result: MatchingResult) -> None:
    warehouse.replace_table(con, "catalog.data_elements", result.data_elements)
    warehouse.replace_table(con, "catalog.form_fields", result.form_fields)
    warehouse.replace_table(con, "catalog.field_review", result.field_review)


def forms_frame(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return warehouse.read_frame(
        con, "SELECT form_code, form_name, department, issuer_level, frequency, target FROM catalog.forms"
    )


def build_form_overlap(con: duckdb.DuckDBPyConnection, schemas: SchemaPaths = SchemaPaths()) -> pl.DataFrame:
    settings = load_plan_settings(schemas.plan)
    form_fields = warehouse.read_frame(con, "SELECT * FROM catalog.form_fields")
    return plan.form_overlap(form_fields, forms_frame(con), settings.merge)


def build_prefill_plan(con: duckdb.DuckDBPyConnection, schemas: SchemaPaths = SchemaPaths()) -> pl.DataFrame:
    settings = load_plan_settings(schemas.plan)
    form_fields = warehouse.read_frame(con, "SELECT * FROM catalog.form_fields")
    elements = warehouse.read_frame(con, "SELECT * FROM catalog.data_elements")
    return plan.prefill_plan(con, settings, form_fields, elements)


def update_prefill_plan(
    con: duckdb.DuckDBPyConnection, schemas: SchemaPaths = SchemaPaths(), full: bool = False
) -> plan_delta.PlanUpdate:
    """marts.prefill_plan brought up to date, recomputing only the committees whose inputs changed."""
    settings = load_plan_settings(schemas.plan)
    form_fields = warehouse.read_frame(con, "SELECT * FROM catalog.form_fields")
    elements = warehouse.read_frame(con, "SELECT * FROM catalog.data_elements")
    return plan_delta.update_prefill_plan(con, settings, form_fields, elements, full=full)


def observed_window(con: duckdb.DuckDBPyConnection) -> int:
    periods = warehouse.read_frame(con, "SELECT DISTINCT period FROM staging.form_records")[
        "period"
    ].to_list()
    return plan.window_months(plan.periods_frame(periods))


def _pairs(con: duckdb.DuckDBPyConnection, settings: PlanSettings) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    prefill = warehouse.read_frame(con, "SELECT * FROM marts.prefill_plan")
    merges = plan.merge_targets(warehouse.read_frame(con, "SELECT * FROM catalog.form_overlap"))
    pairs = burden.form_committee_burden(prefill, forms_frame(con), merges, settings, observed_window(con))
    return prefill, pairs, merges


def build_form_plan(con: duckdb.DuckDBPyConnection, schemas: SchemaPaths = SchemaPaths()) -> pl.DataFrame:
    prefill, pairs, merges = _pairs(con, load_plan_settings(schemas.plan))
    form_fields = warehouse.read_frame(con, "SELECT * FROM catalog.form_fields")
    return burden.form_plan(prefill, pairs, forms_frame(con), form_fields, merges)


def build_burden_by_committee(
    con: duckdb.DuckDBPyConnection, schemas: SchemaPaths = SchemaPaths()
) -> pl.DataFrame:
    prefill, pairs, _ = _pairs(con, load_plan_settings(schemas.plan))
    divisions = (
        warehouse.read_frame(con, "SELECT * FROM core.divisions")
        if warehouse.table_exists(con, "core.divisions")
        else None
    )
    return burden.burden_by_committee(prefill, pairs, divisions)


def build_burden_by_department(
    con: duckdb.DuckDBPyConnection, schemas: SchemaPaths = SchemaPaths()
) -> pl.DataFrame:
    prefill, pairs, _ = _pairs(con, load_plan_settings(schemas.plan))
    return burden.burden_by_department(prefill, pairs)


def build_roll_up(con: duckdb.DuckDBPyConnection, level: str) -> pl.DataFrame:
    return burden.roll_up(warehouse.read_frame(con, "SELECT * FROM marts.burden_by_committee"), level)


def run_all(con: duckdb.DuckDBPyConnection, schemas: SchemaPaths = SchemaPaths()) -> None:
    """Every forms table in dependency order (what a full materialization of group `forms` writes)."""
    write_matching(con, build_matching(con, schemas))
    warehouse.replace_table(con, "catalog.form_overlap", build_form_overlap(con, schemas))
    warehouse.replace_table(con, "marts.prefill_plan", build_prefill_plan(con, schemas))
    warehouse.replace_table(con, "marts.form_plan", build_form_plan(con, schemas))
    warehouse.replace_table(con, "marts.burden_by_committee", build_burden_by_committee(con, schemas))
    warehouse.replace_table(con, "marts.burden_by_township", build_roll_up(con, "township"))
    warehouse.replace_table(con, "marts.burden_by_district", build_roll_up(con, "district"))
    warehouse.replace_table(con, "marts.burden_by_department", build_burden_by_department(con, schemas))


def headline(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """The run-summary numbers: forms, fields and monthly field-entries before → after, share prefilled,
    matching counts, and the committee with the most monthly entries as a worked example."""
    fp = warehouse.read_frame(con, "SELECT * FROM marts.form_plan WHERE committees > 0")
    ff = warehouse.read_frame(con, "SELECT status, count(*) AS n FROM catalog.form_fields GROUP BY status")
    status = dict(zip(ff["status"].to_list(), ff["n"].to_list(), strict=True))
    typed = warehouse.read_frame(
        con,
        """
        SELECT count(DISTINCT coalesce(o.merge_into, p.form_code)) AS forms_after,
               count(DISTINCT coalesce(o.merge_into, p.form_code) || '|' ||
                     coalesce(p.element_code, p.form_code || ':' || p.field_order)) AS fields_after
        FROM marts.prefill_plan p LEFT JOIN marts.form_plan o USING (form_code)
        WHERE p.status = 'type'
        """,
    ).row(0, named=True)
    fields_before = warehouse.read_frame(
        con,
        "SELECT count(*) AS n FROM catalog.form_fields WHERE form_code IN "
        "(SELECT DISTINCT form_code FROM marts.prefill_plan)",
    )["n"][0]
    totals = warehouse.read_frame(
        con,
        "SELECT sum(entries_before) AS b, sum(entries_after) AS a, sum(entries_prefilled) AS p, "
        "count(*) AS committees FROM marts.burden_by_committee",
    ).row(0, named=True)
    top = warehouse.read_frame(
        con, "SELECT * FROM marts.burden_by_committee ORDER BY entries_before DESC, committee_code LIMIT 1"
    )
    example = top.row(0, named=True) if top.height else {}
    before, after = float(totals["b"] or 0.0), float(totals["a"] or 0.0)
    return {
        "forms_before": fp.height,
        "forms_after": int(typed["forms_after"]),
        "forms_fully_prefillable": int(fp["fully_prefillable"].sum()) if fp.height else 0,
        "forms_merged": int(fp["merge_into"].is_not_null().sum()) if fp.height else 0,
        "fields_before": int(fields_before),
        "fields_after": int(typed["fields_after"]),
        "entries_per_month_before": round(before, 1),
        "entries_per_month_after": round(after, 1),
        "share_prefilled": round((before - after) / before, 4) if before else 0.0,
        "committees": int(totals["committees"] or 0),
        "fields_mapped": int(status.get("mapped", 0)),
        "fields_in_review": int(status.get("review", 0)),
        "fields_candidate": int(status.get("candidate", 0)),
        "example_committee": {
            k: example.get(k)
            for k in (
                "committee_code",
                "committee_name",
                "township_name",
                "district_name",
                "forms_before",
                "forms_after",
                "fields_before",
                "fields_after",
                "entries_before",
                "entries_after",
                "share_prefilled",
            )
        }  # fmt: skip
        if example
        else {},
    }


def format_headline(h: dict[str, object]) -> str:
    """One paragraph for the run summary."""
    ex = h.get("example_committee") or {}
    lines = [
        f"一表通: forms {h['forms_before']} → {h['forms_after']} ({h['forms_fully_prefillable']} fully prefillable, "
        f"{h['forms_merged']} merge into another), fields {h['fields_before']} → {h['fields_after']}, "
        f"field-entries/month {h['entries_per_month_before']:,} → {h['entries_per_month_after']:,} "
        f"({h['share_prefilled']:.1%} prefilled) over {h['committees']} committees; "
        f"matching: {h['fields_mapped']} mapped, {h['fields_in_review']} in review, {h['fields_candidate']} candidates."
    ]
    if ex:
        lines.append(
            f"e.g. {ex['committee_name'] or ex['committee_code']} ({ex['committee_code']}): forms {ex['forms_before']} → "
            f"{ex['forms_after']}, fields {ex['fields_before']} → {ex['fields_after']}, field-entries/month "
            f"{ex['entries_before']:,} → {ex['entries_after']:,} ({ex['share_prefilled']:.1%} prefilled)."
        )
    return "\n".join(lines)
