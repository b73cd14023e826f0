"""Dagster wiring of the forms domain (group `forms`): matching, the one-table plan and the burden marts.

Every asset reads schemas/data_elements.yaml, schemas/field_overrides.yaml and schemas/forms/*.yaml when it
runs, so a reviewed change there shows up on the next materialization without a code change.
"""

import hashlib
import json

import dagster as dg

from assets.common import warehouse as wh
from assets.common.gate import Gate
from assets.common.meta import table_metadata
from assets.common.resources import WAREHOUSE_POOL, RunEnvironmentResource, WarehouseResource
from assets.forms import pipeline, validate
from assets.forms.dictionary import DICTIONARY_PATH, MATCHING_PATH, OVERRIDES_PATH, PLAN_PATH

GROUP = "forms"
OWNERS = ["team:jianfu-data"]
KINDS = {"polars", "duckdb"}

FORMS = dg.AssetKey(["catalog", "forms"])
CATALOG_FIELDS = dg.AssetKey(["catalog", "form_catalog_fields"])
RECORDS = dg.AssetKey(["staging", "form_records"])
VALUES = dg.AssetKey(["staging", "form_values"])
DIVISIONS = dg.AssetKey(["core", "divisions"])
PERSON_RECORDS = dg.AssetKey(["core", "person_records"])
DATA_ELEMENTS = dg.AssetKey(["catalog", "data_elements"])
FORM_FIELDS = dg.AssetKey(["catalog", "form_fields"])
FIELD_REVIEW = dg.AssetKey(["catalog", "field_review"])
FORM_OVERLAP = dg.AssetKey(["catalog", "form_overlap"])
PREFILL_PLAN = dg.AssetKey(["marts", "prefill_plan"])
FORM_PLAN = dg.AssetKey(["marts", "form_plan"])
BY_COMMITTEE = dg.AssetKey(["marts", "burden_by_committee"])
BY_TOWNSHIP = dg.AssetKey(["marts", "burden_by_township"])
BY_DISTRICT = dg.AssetKey(["marts", "burden_by_district"])
BY_DEPARTMENT = dg.AssetKey(["marts", "burden_by_department"])


def _qualified(key: dg.AssetKey) -> str:
    return ".".join(key.path)


def _settings_fingerprint() -> dict[str, dg.MetadataValue]:
    """Which schemas/ files produced this table (a changed synonym changes the hash)."""
    digest = hashlib.sha256()
    for path in (DICTIONARY_PATH, OVERRIDES_PATH, MATCHING_PATH, PLAN_PATH):
        digest.update(path.read_bytes())
    return {"schemas_sha256": dg.MetadataValue.text(digest.hexdigest()[:16])}


_MATCHING_SPECS = [
    dg.AssetSpec(
        DATA_ELEMENTS, group_name=GROUP, owners=OWNERS, kinds=KINDS,
        deps=[CATALOG_FIELDS, VALUES, RECORDS],
        description="The data-element catalogue (数据元): schemas/data_elements.yaml with sharing and classification, "
        "plus the candidate elements that field matching found (no sharing attribute until reviewed).",
    ),
    dg.AssetSpec(
        FORM_FIELDS, group_name=GROUP, owners=OWNERS, kinds=KINDS,
        deps=[CATALOG_FIELDS, VALUES, RECORDS],
        description="Every catalog field mapped to a data element, with method (override, synonym, fuzzy, profile, "
        "fuzzy+profile, candidate) and confidence: the basis for collecting each fact once.",
    ),
    dg.AssetSpec(
        FIELD_REVIEW, group_name=GROUP, owners=OWNERS, kinds=KINDS,
        deps=[CATALOG_FIELDS, VALUES, RECORDS],
        description="Mappings below the review threshold, left unmapped instead of guessed; resolve one by adding "
        "an entry to schemas/field_overrides.yaml.",
    ),
]  # fmt: skip


@dg.multi_asset(specs=_MATCHING_SPECS, pool=WAREHOUSE_POOL, name="forms_field_matching")
def field_matching(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, run_env: RunEnvironmentResource
):
    """Match all catalog fields once; the three tables are views of the same decision."""
    with warehouse.connect() as con:
        if (gate := Gate(context, con, run_env.environ())).current():  # inputs unchanged: common/gate.py
            yield from gate.skipped()
            return
        result = pipeline.build_matching(con)
        pipeline.write_matching(con, result)
        gate.record()
        counts = result.form_fields["status"].value_counts().to_dicts()
        by_status = {r["status"]: r["count"] for r in counts}
        methods = {r["method"]: r["count"] for r in result.form_fields["method"].value_counts().to_dicts()}
        context.log.info(f"field matching: {by_status}")
        fp = _settings_fingerprint()
        yield dg.MaterializeResult(
            asset_key=DATA_ELEMENTS,
            metadata={
                **table_metadata(con, "catalog.data_elements"),
                **fp,
                "candidates": int((result.data_elements["status"] == "candidate").sum()),
            },
        )
        yield dg.MaterializeResult(
            asset_key=FORM_FIELDS,
            metadata={
                **table_metadata(con, "catalog.form_fields"),
                **fp,
                "by_status": dg.MetadataValue.json(by_status),
                "by_method": dg.MetadataValue.json(methods),
            },
        )
        yield dg.MaterializeResult(
            asset_key=FIELD_REVIEW, metadata={**table_metadata(con, "catalog.field_review"), **fp}
        )


@dg.asset(
    key=FORM_OVERLAP, group_name=GROUP, kinds=KINDS, owners=OWNERS, pool=WAREHOUSE_POOL,
    deps=[FORM_FIELDS, FORMS],
    description="Pairs of forms with their shared elements and Jaccard overlap, flagged as merge candidates "
    "(thresholds in schemas/forms/plan.yaml).",
)  # fmt: skip
def form_overlap(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, run_env: RunEnvironmentResource
) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        if (gate := Gate(context, con, run_env.environ())).current():  # inputs unchanged: common/gate.py
            return gate.skipped()[0]
        frame = pipeline.build_form_overlap(con)
        wh.replace_table(con, "catalog.form_overlap", frame)
        gate.record()
        return dg.MaterializeResult(
            metadata={
                **table_metadata(
                    con, "catalog.form_overlap",
                    preview_sql="SELECT * FROM catalog.form_overlap ORDER BY jaccard DESC LIMIT 10",
                ),
                "merge_candidate_pairs": int(frame["merge_candidate"].sum()) if frame.height else 0,
                **_settings_fingerprint(),
            }
        )  # fmt: skip


@dg.asset(
    key=PREFILL_PLAN, group_name=GROUP, kinds=KINDS, owners=OWNERS, pool=WAREHOUSE_POOL,
    deps=[FORM_FIELDS, DATA_ELEMENTS, RECORDS, VALUES, PERSON_RECORDS],
    description="The one-table plan per form × committee × field: prefilled from data already collected "
    "(return flow, 回流, or derived from the ID) or still typed, with the reason.",
)  # fmt: skip
def prefill_plan(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, run_env: RunEnvironmentResource
) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        if (gate := Gate(context, con, run_env.environ())).current():  # inputs unchanged: common/gate.py
            return gate.skipped()[0]
        # only the committees whose records or persons changed (assets/forms/plan_delta.py)
        update = pipeline.update_prefill_plan(con)
        gate.record()
        reasons = dict(con.execute("SELECT reason, count(*) FROM marts.prefill_plan GROUP BY 1").fetchall())
        context.log.info(f"prefill plan: {update}")
        return dg.MaterializeResult(
            data_version=gate.version,
            metadata={
                **table_metadata(con, "marts.prefill_plan"),
                "by_reason": dg.MetadataValue.json(reasons),
                "update": dg.MetadataValue.text(
                    f"{update.mode}{' (' + update.reason + ')' if update.reason else ''}"
                ),
                "committees_recomputed": dg.MetadataValue.int(update.recomputed),
                "committees": dg.MetadataValue.int(update.committees),
                **_settings_fingerprint(),
            },
        )


@dg.asset(
    key=FORM_PLAN, group_name=GROUP, kinds=KINDS, owners=OWNERS, pool=WAREHOUSE_POOL,
    deps=[PREFILL_PLAN, FORM_OVERLAP, FORMS, FORM_FIELDS],
    description="Per form: share of fields prefilled, committees where it becomes fully prefillable, "
    "and the form it can be merged into.",
)  # fmt: skip
def form_plan(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, run_env: RunEnvironmentResource
) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        if (gate := Gate(context, con, run_env.environ())).current():  # inputs unchanged: common/gate.py
            return gate.skipped()[0]
        frame = pipeline.build_form_plan(con)
        wh.replace_table(con, "marts.form_plan", frame)
        gate.record()
        return dg.MaterializeResult(
            metadata={
                **table_metadata(con, "marts.form_plan"),
                "forms_fully_prefillable": int(frame["fully_prefillable"].sum()),
                "forms_with_merge_target": int(frame["merge_into"].is_not_null().sum()),
            }
        )


@dg.asset(
    key=BY_COMMITTEE, group_name=GROUP, kinds=KINDS, owners=OWNERS, pool=WAREHOUSE_POOL,
    deps=[PREFILL_PLAN, FORM_OVERLAP, FORM_PLAN, FORMS, DIVISIONS, BY_DEPARTMENT],
    description="Reporting burden per committee: forms, fields and field-entries per month before and after "
    "prefill, and the share prefilled. The chart and the headline numbers are in the metadata.",
)  # fmt: skip
def burden_by_committee(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, run_env: RunEnvironmentResource
) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        if (gate := Gate(context, con, run_env.environ())).current():  # inputs unchanged: common/gate.py
            return gate.skipped()[0]
        frame = pipeline.build_burden_by_committee(con)
        wh.replace_table(con, "marts.burden_by_committee", frame)
        gate.record()
        # the department mart is already built (was computed a second time here from the whole prefill plan)
        departments = wh.read_frame(con, "SELECT * FROM marts.burden_by_department")
        from assets.forms import chart  # matplotlib: ~1 s of imports, paid only where a chart is drawn

        png = chart.burden_chart_png(frame, departments)
        head = pipeline.headline(con)
        context.log.info(pipeline.format_headline(head))
        return dg.MaterializeResult(
            metadata={
                **table_metadata(
                    con, "marts.burden_by_committee",
                    preview_sql="SELECT * FROM marts.burden_by_committee ORDER BY entries_before DESC LIMIT 10",
                ),
                "chart": dg.MetadataValue.md(chart.markdown_image(png, "field-entries per month before and after")),
                "headline": dg.MetadataValue.json(json.loads(json.dumps(head, default=str))),
                "summary": dg.MetadataValue.text(pipeline.format_headline(head)),
                "entries_per_month_before": dg.MetadataValue.float(float(head["entries_per_month_before"])),
                "entries_per_month_after": dg.MetadataValue.float(float(head["entries_per_month_after"])),
                "share_prefilled": dg.MetadataValue.float(float(head["share_prefilled"])),
            }
        )  # fmt: skip


def _roll_up_asset(key: dg.AssetKey, level: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=key, group_name=GROUP, kinds=KINDS, owners=OWNERS, pool=WAREHOUSE_POOL, deps=[BY_COMMITTEE],
        description=f"Reporting burden per {level}: the committees' forms, fields and monthly field-entries summed, "
        "before and after prefill.",
    )  # fmt: skip
    def _asset(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, run_env: RunEnvironmentResource
    ) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            if (gate := Gate(context, con, run_env.environ())).current():
                return gate.skipped()[0]
            wh.replace_table(con, _qualified(key), pipeline.build_roll_up(con, level))
            gate.record()
            return dg.MaterializeResult(metadata=table_metadata(con, _qualified(key)))

    return _asset


burden_by_township = _roll_up_asset(BY_TOWNSHIP, "township")
burden_by_district = _roll_up_asset(BY_DISTRICT, "district")


@dg.asset(
    key=BY_DEPARTMENT, group_name=GROUP, kinds=KINDS, owners=OWNERS, pool=WAREHOUSE_POOL,
    deps=[PREFILL_PLAN, FORM_OVERLAP, FORMS],
    description="What each issuing department's forms cost the committees, before and after prefill.",
)  # fmt: skip
def burden_by_department(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, run_env: RunEnvironmentResource
) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        if (gate := Gate(context, con, run_env.environ())).current():  # inputs unchanged: common/gate.py
            return gate.skipped()[0]
        wh.replace_table(con, "marts.burden_by_department", pipeline.build_burden_by_department(con))
        gate.record()
        return dg.MaterializeResult(metadata=table_metadata(con, "marts.burden_by_department"))


# ── checks ──────────────────────────────────────────────────────────────────────────────────────────────


def _result(outcome: validate.Outcome, severity: dg.AssetCheckSeverity) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=severity,
        description=outcome.description,
        metadata={
            "failing": outcome.failing,
            "total": outcome.total,
            "failing_rate": dg.MetadataValue.float(round(outcome.rate, 6)),
            "examples": dg.MetadataValue.md(wh.markdown_preview(outcome.examples)),
        },
    )


@dg.asset_check(asset=FORM_FIELDS, blocking=True, pool=WAREHOUSE_POOL, additional_deps=[FIELD_REVIEW])
def every_field_mapped_or_reviewed(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Each catalog field has one mapping row with an element, a not-element override, or a review row."""
    with warehouse.connect() as con:
        outcome = validate.fields_accounted(
            pipeline.catalog_fields(con),
            wh.read_frame(con, "SELECT * FROM catalog.form_fields"),
            wh.read_frame(con, "SELECT * FROM catalog.field_review"),
        )
    return _result(outcome, dg.AssetCheckSeverity.ERROR)


@dg.asset_check(asset=FORM_FIELDS, blocking=False, pool=WAREHOUSE_POOL)
def review_share_small(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Warn when more than 20% of fields wait for review (the synonyms or overrides need work)."""
    with warehouse.connect() as con:
        outcome = validate.review_share(wh.read_frame(con, "SELECT * FROM catalog.form_fields"))
    return _result(outcome, dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset=PREFILL_PLAN, blocking=True, pool=WAREHOUSE_POOL)
def prefill_respects_sharing(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """不予共享 elements, candidates and unreviewed mappings are never prefilled."""
    with warehouse.connect() as con:
        outcome = validate.sharing_respected(wh.read_frame(con, "SELECT * FROM marts.prefill_plan"))
    return _result(outcome, dg.AssetCheckSeverity.ERROR)


@dg.asset_check(asset=BY_COMMITTEE, blocking=True, pool=WAREHOUSE_POOL)
def burden_after_not_above_before(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Forms, fields and monthly entries after prefill never exceed before, for any committee."""
    with warehouse.connect() as con:
        outcome = validate.burden_not_increased(wh.read_frame(con, "SELECT * FROM marts.burden_by_committee"))
    return _result(outcome, dg.AssetCheckSeverity.ERROR)


ASSETS = [
    field_matching,
    form_overlap,
    prefill_plan,
    form_plan,
    burden_by_committee,
    burden_by_township,
    burden_by_district,
    burden_by_department,
]
CHECKS = [
    every_field_mapped_or_reviewed,
    review_share_small,
    prefill_respects_sharing,
    burden_after_not_above_before,
]

# This domain's definitions: pipelines/definitions.py autoloads them with dg.load_from_defs_folder.
defs = dg.Definitions(assets=ASSETS, asset_checks=CHECKS)
