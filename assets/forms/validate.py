"""Validators behind the forms asset checks (pure: frames in, an outcome out)."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from assets.forms.plan import NOT_SHAREABLE


@dataclass(frozen=True)
class Outcome:
    passed: bool
    failing: int
    total: int
    description: str
    examples: pl.DataFrame

    @property
    def rate(self) -> float:
        return self.failing / self.total if self.total else 0.0


def _outcome(bad: pl.DataFrame, total: int, what: str) -> Outcome:
    rate = bad.height / total if total else 0.0
    return Outcome(
        bad.height == 0, bad.height, total, f"{bad.height}/{total} ({rate:.1%}) {what}", bad.head(10)
    )


def fields_accounted(
    catalog_fields: pl.DataFrame, form_fields: pl.DataFrame, review: pl.DataFrame
) -> Outcome:
    """Every catalog field has exactly one mapping row, and an element (catalogued or candidate), a
    not-element override, or a review row: nothing is silently dropped."""
    keys = ["form_code", "field_order"]
    counts = form_fields.group_by(keys).agg(
        pl.len().alias("rows"), pl.col("status").first(), pl.col("element_code").first()
    )
    reviewed = review.select(keys).unique().with_columns(pl.lit(True).alias("in_review"))
    joined = (
        catalog_fields.select(*keys, "field_label")
        .join(counts, on=keys, how="left")
        .join(reviewed, on=keys, how="left")
    )
    bad = joined.filter(
        pl.col("rows").is_null()
        | (pl.col("rows") != 1)
        | ~(
            pl.col("element_code").is_not_null()
            | (pl.col("status") == "not_element")
            | pl.col("in_review").fill_null(False)
        )
    )
    return _outcome(bad, catalog_fields.height, "catalog fields without exactly one mapping or review row")


def sharing_respected(prefill_plan: pl.DataFrame) -> Outcome:
    """Nothing 不予共享, candidate, in review or not an element is marked prefill."""
    bad = prefill_plan.filter(
        (pl.col("status") == "prefill")
        & (
            (pl.col("sharing") == NOT_SHAREABLE)
            | (pl.col("mapping_status") != "mapped")
            | pl.col("sharing").is_null()
        )
    )
    return _outcome(bad, prefill_plan.height, "prefilled fields that sharing or review forbid")


def burden_not_increased(by_committee: pl.DataFrame) -> Outcome:
    """The plan only removes work: after ≤ before for forms, fields and entries, per committee."""
    bad = by_committee.filter(
        (pl.col("entries_after") > pl.col("entries_before") + 1e-6)
        | (pl.col("fields_after") > pl.col("fields_before"))
        | (pl.col("forms_after") > pl.col("forms_before"))
        | (pl.col("entries_after") < -1e-6)
    )
    return _outcome(bad, by_committee.height, "committees whose burden after exceeds before")


def review_share(form_fields: pl.DataFrame, max_share: float = 0.2) -> Outcome:
    """Too many fields in review means the synonyms need work (a warning, not a stop)."""
    bad = form_fields.filter(pl.col("status") == "review")
    share = bad.height / form_fields.height if form_fields.height else 0.0
    out = _outcome(bad, form_fields.height, f"catalog fields in review (limit {max_share:.0%})")
    return Outcome(share <= max_share, out.failing, out.total, out.description, out.examples)
