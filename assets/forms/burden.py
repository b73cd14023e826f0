"""Reporting burden before and after the one-table plan, per committee and rolled up.

Definitions (docs/forms.md):
- deliveries per month of a (form, committee): 月报 1, 季报 1/3, 年报 1/12 (schemas/forms/plan.yaml); 不定期 has
  no fixed rate, so it is the committee's distinct delivered periods divided by the months of the observed
  window (earliest period start to latest period end; year periods are left out when shorter ones exist).
- rows per delivery = the committee's staged rows of the form / its distinct delivered periods.
- field-entries per month = rows per delivery × fields × deliveries per month.
- prefilled entries per month = Σ over fields of covered rows per delivery × deliveries per month (the exact
  row-level coverage of marts.prefill_plan, so a half-covered field saves half its entries); after = before − prefilled.
- forms after = the forms the committee still types into (not fully prefillable), with merged forms counted once
  (their merge root); fields after = fields still typed, de-duplicated by element within a merge root.
"""

from __future__ import annotations

import polars as pl

from assets.forms.dictionary import PlanSettings

PAIR_SCHEMA = {
    "form_code": pl.String,
    "committee_code": pl.String,
    "district_code": pl.String,
    "township_code": pl.String,
    "department": pl.String,
    "frequency": pl.String,
    "merge_root": pl.String,
    "deliveries": pl.Int64,
    "rows": pl.Int64,
    "deliveries_per_month": pl.Float64,
    "rows_per_month": pl.Float64,
    "n_fields": pl.Int64,
    "n_fields_prefill": pl.Int64,
    "fully_prefillable": pl.Boolean,
    "entries_before": pl.Float64,
    "entries_prefilled": pl.Float64,
    "entries_after": pl.Float64,
}


def int64(frame: pl.DataFrame) -> pl.DataFrame:
    """Counts as BIGINT in the warehouse (polars counts are UInt32)."""
    return frame.with_columns(pl.col(pl.UInt32, pl.UInt64, pl.Int32).cast(pl.Int64))


def deliveries_per_month(settings: PlanSettings, window: int) -> pl.Expr:
    """The frequency factor as an expression over `frequency` and `deliveries`."""
    expr: pl.Expr | None = None
    for freq, factor in settings.frequency.items():
        value = pl.col("deliveries") / window if factor == "observed" else pl.lit(float(factor))
        expr = (
            pl.when(pl.col("frequency") == freq) if expr is None else expr.when(pl.col("frequency") == freq)
        ).then(value)
    assert expr is not None
    # an unknown frequency is counted like 不定期: by its observed deliveries
    return expr.otherwise(pl.col("deliveries") / window).cast(pl.Float64)


def form_committee_burden(
    plan: pl.DataFrame,
    forms: pl.DataFrame,
    merges: dict[str, tuple[str, float]],
    settings: PlanSettings,
    window: int,
) -> pl.DataFrame:
    """One row per (form, committee): rows, fields and monthly field-entries before/after prefill."""
    roots = pl.DataFrame(
        {"form_code": list(merges), "merge_root": [t for t, _ in merges.values()]},
        schema={"form_code": pl.String, "merge_root": pl.String},
    )
    per_field = plan.with_columns((pl.col("status") == "prefill").alias("_pre"))
    pairs = (
        per_field.group_by("form_code", "committee_code")
        .agg(
            pl.col("district_code").first(),
            pl.col("township_code").first(),
            pl.col("deliveries").first(),
            pl.col("rows").first(),
            pl.len().alias("n_fields"),
            pl.col("_pre").sum().cast(pl.Int64).alias("n_fields_prefill"),
            pl.col("rows_covered").sum().alias("_covered"),
        )
        .join(forms.select("form_code", "department", "frequency"), on="form_code", how="left")
        .join(roots, on="form_code", how="left")
        .with_columns(
            pl.col("merge_root").fill_null(pl.col("form_code")),
            deliveries_per_month(settings, window).alias("deliveries_per_month"),
        )
        .with_columns(
            (pl.col("rows") / pl.col("deliveries") * pl.col("deliveries_per_month")).alias("rows_per_month"),
            (pl.col("n_fields_prefill") == pl.col("n_fields")).alias("fully_prefillable"),
        )
        .with_columns(
            (pl.col("rows_per_month") * pl.col("n_fields")).alias("entries_before"),
            (pl.col("_covered") / pl.col("deliveries") * pl.col("deliveries_per_month")).alias(
                "entries_prefilled"
            ),
        )
        .with_columns((pl.col("entries_before") - pl.col("entries_prefilled")).alias("entries_after"))
    )
    return pairs.select(list(PAIR_SCHEMA)).cast(PAIR_SCHEMA).sort("committee_code", "form_code")


def _typed_field_keys(plan: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """Fields still typed, keyed so one element is typed once per merge root: (committee, root, key)."""
    return (
        plan.filter(pl.col("status") == "type")
        .join(pairs.select("form_code", "committee_code", "merge_root"), on=["form_code", "committee_code"])
        .with_columns(
            pl.coalesce(
                pl.col("element_code"),
                pl.col("form_code") + pl.lit(":") + pl.col("field_order").cast(pl.String),
            ).alias("field_key")
        )
        .select("committee_code", "merge_root", "field_key")
        .unique()
    )


def _metrics(group: list[str]) -> list[pl.Expr]:
    return [
        pl.col("entries_before").sum().round(2).alias("entries_before"),
        pl.col("entries_after").sum().round(2).alias("entries_after"),
        pl.col("entries_prefilled").sum().round(2).alias("entries_prefilled"),
        pl.col("rows_per_month").sum().round(2).alias("rows_per_month"),
    ]


def _share(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.when(pl.col("entries_before") > 0)
        .then((pl.col("entries_prefilled") / pl.col("entries_before")).round(4))
        .otherwise(0.0)
        .alias("share_prefilled")
    )


def burden_by_committee(
    plan: pl.DataFrame, pairs: pl.DataFrame, divisions: pl.DataFrame | None = None
) -> pl.DataFrame:
    """marts.burden_by_committee: forms, fields and monthly field-entries before → after, share prefilled."""
    keys = ["district_code", "township_code", "committee_code"]
    base = pairs.group_by(keys).agg(
        pl.col("form_code").n_unique().alias("forms_before"),
        pl.col("merge_root").filter(~pl.col("fully_prefillable")).n_unique().alias("forms_after"),
        pl.col("n_fields").sum().alias("fields_before"),
        *_metrics(keys),
    )
    typed = _typed_field_keys(plan, pairs).group_by("committee_code").agg(pl.len().alias("fields_after"))
    out = (
        base.join(typed, on="committee_code", how="left")
        .with_columns(pl.col("fields_after").fill_null(0).cast(pl.Int64))
        .pipe(_share)
    )
    if divisions is not None:
        names = divisions.select("committee_code", "committee_name", "township_name", "district_name").unique(
            "committee_code"
        )
        out = out.join(names, on="committee_code", how="left")
    else:
        out = out.with_columns(
            pl.lit(None, pl.String).alias(c) for c in ("committee_name", "township_name", "district_name")
        )
    cols = [
        "district_code", "district_name", "township_code", "township_name", "committee_code", "committee_name",
        "forms_before", "forms_after", "fields_before", "fields_after", "rows_per_month",
        "entries_before", "entries_after", "entries_prefilled", "share_prefilled",
    ]  # fmt: skip
    return (
        out.select(cols)
        .with_columns(pl.col("forms_before", "forms_after", "fields_before").cast(pl.Int64))
        .sort("committee_code")
    )


def roll_up(by_committee: pl.DataFrame, level: str) -> pl.DataFrame:
    """marts.burden_by_township / burden_by_district: sums over committees (forms and fields are per-committee
    sums, i.e. form-fillings and field slots), share recomputed from the sums."""
    keys = {"township": ["district_code", "district_name", "township_code", "township_name"],
            "district": ["district_code", "district_name"]}[level]  # fmt: skip
    sums = ["forms_before", "forms_after", "fields_before", "fields_after", "rows_per_month",
            "entries_before", "entries_after", "entries_prefilled"]  # fmt: skip
    return (
        by_committee.group_by(keys)
        .agg(pl.len().alias("committees"), *[pl.col(c).sum() for c in sums])
        .with_columns(
            pl.col(c).round(2)
            for c in ("rows_per_month", "entries_before", "entries_after", "entries_prefilled")
        )
        .pipe(_share)
        .pipe(int64)
        .sort(keys)
    )


def burden_by_department(plan: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """marts.burden_by_department: what each issuing department's forms cost committees, before and after.
    Fields after are the department's still-typed field slots (no merge de-duplication across departments)."""
    typed = (
        plan.filter(pl.col("status") == "type")
        .group_by("form_code", "committee_code")
        .agg(pl.len().alias("typed"))
    )
    return (
        pairs.join(typed, on=["form_code", "committee_code"], how="left")
        .with_columns(pl.col("department").fill_null("(unknown)"), pl.col("typed").fill_null(0))
        .group_by("department")
        .agg(
            pl.col("form_code").n_unique().alias("forms"),
            pl.col("committee_code").n_unique().alias("committees"),
            pl.len().alias("form_deliveries_before"),
            (~pl.col("fully_prefillable")).sum().cast(pl.Int64).alias("form_deliveries_after"),
            pl.col("n_fields").sum().alias("fields_before"),
            pl.col("typed").sum().cast(pl.Int64).alias("fields_after"),
            *_metrics(["department"]),
        )
        .pipe(_share)
        .pipe(int64)
        .sort("entries_before", descending=True)
    )


def form_plan(
    plan: pl.DataFrame,
    pairs: pl.DataFrame,
    forms: pl.DataFrame,
    form_fields: pl.DataFrame,
    merges: dict[str, tuple[str, float]],
) -> pl.DataFrame:
    """marts.form_plan: per form, how much of it is prefilled, whether it becomes fully prefillable, where it merges."""
    per_form = pairs.group_by("form_code").agg(
        pl.len().alias("committees"),
        pl.col("fully_prefillable").sum().cast(pl.Int64).alias("committees_fully_prefillable"),
        (pl.col("n_fields_prefill").sum() / pl.col("n_fields").sum()).round(4).alias("prefill_field_share"),
        pl.col("entries_before").sum().round(2).alias("entries_before"),
        pl.col("entries_after").sum().round(2).alias("entries_after"),
    )
    fields = form_fields.group_by("form_code").agg(
        pl.len().alias("n_fields"),
        (pl.col("status") == "mapped").sum().cast(pl.Int64).alias("n_mapped"),
        (pl.col("status") == "review").sum().cast(pl.Int64).alias("n_review"),
        (pl.col("status") == "candidate").sum().cast(pl.Int64).alias("n_candidate"),
    )
    prefillable_somewhere = (
        plan.filter(pl.col("status") == "prefill")
        .group_by("form_code")
        .agg(pl.col("field_label").unique().sort().alias("fields_prefillable"))
    )
    merge_frame = pl.DataFrame(
        {"form_code": list(merges), "merge_into": [t for t, _ in merges.values()],
         "merge_jaccard": [j for _, j in merges.values()]},
        schema={"form_code": pl.String, "merge_into": pl.String, "merge_jaccard": pl.Float64},
    )  # fmt: skip
    return (
        forms.select("form_code", "form_name", "department", "frequency", "target")
        .join(fields, on="form_code", how="left")
        .join(per_form, on="form_code", how="left")
        .join(prefillable_somewhere, on="form_code", how="left")
        .join(merge_frame, on="form_code", how="left")
        .with_columns(
            pl.col("committees").fill_null(0),
            pl.col("committees_fully_prefillable").fill_null(0),
            (
                (pl.col("committees").fill_null(0) > 0)
                & (pl.col("committees_fully_prefillable") == pl.col("committees"))
            ).alias("fully_prefillable"),
        )
        .pipe(int64)
        .sort("form_code")
    )


# ── observed burden (数据回流 returns, assets/reflow) ────────────────────────────────────────────────────
# Definitions (docs/reflow.md): a returned prefilled file's cells are `confirmed` (prefilled and kept),
# `corrected` (prefilled, changed by staff), `typed` (blank on the prefill, filled by staff; every value of a
# return read as an ordinary delivery) or left blank. Cells staff typed = corrected + typed; cells that would
# have been typed without prefill = confirmed + corrected + typed; observed share prefilled = confirmed / that.

OBSERVED_KEYS = ["district_code", "committee_code", "form_code", "department", "month"]


def observed_by_form(returns: pl.DataFrame, cells: pl.DataFrame, forms: pl.DataFrame) -> pl.DataFrame:
    """marts.burden_observed: per committee, form, department and month of the period, what staff typed."""
    counted = cells.filter(pl.col("outcome").is_in(["confirmed", "corrected", "typed"]))
    per_file = counted.group_by("return_file").agg(
        (pl.col("outcome") == "confirmed").sum().alias("cells_confirmed"),
        (pl.col("outcome") == "corrected").sum().alias("cells_corrected"),
        (pl.col("outcome") == "typed").sum().alias("cells_typed"),
    )
    files = (
        returns.select(
            "return_file",
            "district_code",
            "committee_code",
            "form_code",
            "period",
            "kind",
            "rows_confirmed",
            "rows_corrected",
            "rows_added",
            "rows_removed",
        )  # fmt: skip
        .join(per_file, on="return_file", how="left")
        .join(forms.select("form_code", "department"), on="form_code", how="left")
        .with_columns(
            pl.col("department").fill_null("(unknown)"),
        )
    )
    month = (
        pl.when(pl.col("period").str.contains(r"^\d{4}Q[1-4]$"))
        .then(
            pl.col("period").str.slice(0, 4)
            + "-"
            + ((pl.col("period").str.slice(5, 1).cast(pl.Int32) * 3 - 2).cast(pl.String).str.zfill(2))
        )  # fmt: skip
        .when(pl.col("period").str.contains(r"^\d{4}$"))
        .then(pl.col("period") + "-01")
        .otherwise(pl.col("period").str.slice(0, 7))
    )
    out = (
        files.with_columns(month.alias("month"))
        .group_by(OBSERVED_KEYS)
        .agg(
            pl.len().alias("files"),
            (pl.col("kind") == "prefill_return").sum().alias("files_with_prefill_id"),
            *[
                pl.col(c).fill_null(0).sum()
                for c in (
                    "rows_confirmed",
                    "rows_corrected",
                    "rows_added",
                    "rows_removed",
                    "cells_confirmed",
                    "cells_corrected",
                    "cells_typed",
                )
            ],
        )  # fmt: skip
        .with_columns(
            (pl.col("cells_corrected") + pl.col("cells_typed")).alias("cells_staff_typed"),
            (pl.col("cells_confirmed") + pl.col("cells_corrected") + pl.col("cells_typed")).alias(
                "cells_without_prefill"
            ),
        )
        .with_columns(
            pl.when(pl.col("cells_without_prefill") > 0)
            .then((pl.col("cells_confirmed") / pl.col("cells_without_prefill")).round(4))
            .otherwise(0.0)
            .alias("share_prefilled_observed")
        )
    )
    return int64(out).sort(OBSERVED_KEYS)


def observed_by_department(observed: pl.DataFrame, plan_by_department: pl.DataFrame | None) -> pl.DataFrame:
    """marts.burden_observed_by_department: the plan's share prefilled beside the share observed on returns."""
    sums = ["files", "files_with_prefill_id", "cells_confirmed", "cells_corrected", "cells_typed", "cells_staff_typed",
            "cells_without_prefill"]  # fmt: skip
    out = observed.group_by("department").agg(
        pl.col("committee_code").n_unique().alias("committees"), pl.col("form_code").n_unique().alias("forms"),
        *[pl.col(c).sum() for c in sums],
    ).with_columns(
        pl.when(pl.col("cells_without_prefill") > 0)
        .then((pl.col("cells_confirmed") / pl.col("cells_without_prefill")).round(4))
        .otherwise(0.0)
        .alias("share_prefilled_observed")
    )  # fmt: skip
    if plan_by_department is not None and plan_by_department.height:
        plan = plan_by_department.select(
            "department", pl.col("entries_before").alias("plan_entries_before"),
            pl.col("entries_after").alias("plan_entries_after"), pl.col("share_prefilled").alias("share_prefilled_plan"),
        )  # fmt: skip
        out = out.join(plan, on="department", how="left")
    else:
        out = out.with_columns(
            pl.lit(None, pl.Float64).alias(c)
            for c in ("plan_entries_before", "plan_entries_after", "share_prefilled_plan")
        )
    return int64(out).sort("cells_without_prefill", descending=True)
