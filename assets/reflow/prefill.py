"""Prefill: every cell of next period's form that the committee may see, filled from what is already held.

A roster row × a form field is one cell. A cell is prefilled when the field has a catalogued data element,
the access gate allows that element for the committee and the form's purpose (assets/reflow/access.py), and
a value is held, in this order:
1. the golden record (core.persons: name, ID, sex, birth date, phone, addresses) — `golden`;
2. computed from it (出生年月 and 年龄 on the coverage date from the birth date; 性别 and 出生日期 from a valid
   ID when the golden record lacks them) — `derived`;
3. the latest earlier delivery of any form (or returned prefilled file) holding the element — `delivery`.
Every other cell stays blank for staff, with the reason. Each prefilled cell keeps its source.
"""

from __future__ import annotations

import hashlib

import polars as pl

from assets.reflow.access import AccessGate
from assets.reflow.targets import Targets

GOLDEN = {  # element → core.persons column
    "person_name": "person_name", "citizen_id": "id_number", "sex": "sex", "birth_date": "birth_date",
    "phone": "phone", "household_address": "household_address", "residence_address": "residence_address",
}  # fmt: skip
SEQ_LABEL = "序号"
CELL_SCHEMA = {
    "prefill_id": pl.String,
    "committee_code": pl.String,
    "form_code": pl.String,
    "period": pl.String,
    "seq": pl.Int64,
    "person_id": pl.String,
    "field_order": pl.Int64,
    "field_label": pl.String,
    "field_type": pl.String,
    "element_code": pl.String,
    "sharing": pl.String,
    "value": pl.String,
    "prefilled": pl.Boolean,
    "source": pl.String,  # golden | derived | delivery | None
    "source_detail": pl.String,  # core.persons:<person_id> | birth_date | <source_file>#<row> | why blank
}


def prefill_id(committee: str, form: str, period: str, content: str) -> str:
    """Readable and content-addressed: the same roster and values give the same id on a rerun."""
    digest = hashlib.sha1(f"{committee}|{form}|{period}|{content}".encode()).hexdigest()[:8]
    return f"PF-{committee}-{form}-{period}-{digest}"


def form_fields_for_prefill(fields: pl.DataFrame, catalogued: set[str]) -> pl.DataFrame:
    """Catalog fields with the element the prefill may use: mapped to an element of data_elements.yaml."""
    return fields.with_columns(
        pl.when((pl.col("status") == "mapped") & pl.col("element_code").is_in(list(catalogued)))
        .then(pl.col("element_code"))
        .otherwise(None)
        .alias("element_code")
    ).select("form_code", "field_order", "field_label", "field_type", "element_code")


def decisions(gate: AccessGate, targets: Targets, fields: pl.DataFrame, committee: str) -> pl.DataFrame:
    """(form, element) → allowed, reason, sharing — the policy decision for the form's purpose."""
    rows = []
    for form, element in fields.select("form_code", "element_code").unique().iter_rows():
        d = gate.decide(committee, element, targets.rule(form).purpose)
        rows.append((form, element, d.allowed, d.code, d.sharing))
    schema = {"form_code": pl.String, "element_code": pl.String, "allowed": pl.Boolean, "why": pl.String,
              "sharing": pl.String}  # fmt: skip
    return pl.DataFrame(rows, schema=schema, orient="row")


def golden_long(persons: pl.DataFrame) -> pl.DataFrame:
    """(person_id, element_code, value) of every non-empty golden attribute."""
    cols = {e: c for e, c in GOLDEN.items() if c in persons.columns}
    frame = persons.select(
        "person_id", *[pl.col(c).cast(pl.String).alias(e) for e, c in cols.items()]
    ).unpivot(index="person_id", variable_name="element_code", value_name="g_value")
    return frame.filter(pl.col("g_value").is_not_null() & (pl.col("g_value").str.strip_chars() != ""))


def build_cells(
    roster: pl.DataFrame,
    fields: pl.DataFrame,
    persons: pl.DataFrame,
    delivered: pl.DataFrame,
    allowed: pl.DataFrame,
) -> pl.DataFrame:
    """One row per (roster person on the form, field), prefilled or blank with the reason.

    roster:    committee_code, form_code, period, coverage_date, person_id, seq (status `on` only)
    fields:    form_code, field_order, field_label, field_type, element_code (catalogued or null)
    persons:   core.persons (person_id, person_name, id_number, sex, birth_date, phone, addresses)
    delivered: person_id, element_code, d_value, d_source — the latest held value per (person, element)
    allowed:   form_code, element_code, allowed, why, sharing
    """
    births = persons.select(
        "person_id", pl.col("birth_date").cast(pl.Date).alias("_birth"), pl.col("id_number").alias("_id")
    )
    cells = (
        roster.join(fields, on="form_code", how="inner")
        .join(allowed, on=["form_code", "element_code"], how="left")
        .join(golden_long(persons), on=["person_id", "element_code"], how="left")
        .join(births, on="person_id", how="left")
        .join(delivered, on=["person_id", "element_code"], how="left")
    )
    # targets.age_on, vectorized: whole years, a birthday on the coverage date counts
    cov, birth = pl.col("coverage_date").cast(pl.Date), pl.col("_birth")

    def month_day(d: pl.Expr) -> pl.Expr:  # month and day are Int8: widen before multiplying
        return d.dt.month().cast(pl.Int32) * 100 + d.dt.day().cast(pl.Int32)

    age = (cov.dt.year() - birth.dt.year()).cast(pl.Int64) - (month_day(cov) < month_day(birth)).cast(
        pl.Int64
    )
    valid_id = pl.col("_id").str.contains(r"^\d{17}[\dX]$")
    derived = (
        pl.when(pl.col("element_code") == "birth_month")
        .then(pl.col("_birth").dt.strftime("%Y-%m"))
        .when((pl.col("element_code") == "sex") & valid_id)  # GB 11643: the 17th digit is odd for men
        .then(
            pl.when(pl.col("_id").str.slice(16, 1).cast(pl.Int32) % 2 == 1)
            .then(pl.lit("男"))
            .otherwise(pl.lit("女"))
        )
        .when((pl.col("element_code") == "birth_date") & valid_id)
        .then(pl.col("_id").str.slice(6, 8).str.to_date("%Y%m%d", strict=False).cast(pl.String))
        .when(pl.col("element_code") == "age")
        .then(age.cast(pl.String))
        .otherwise(None)
    )
    ok = pl.col("allowed").fill_null(False)
    cells = cells.with_columns(derived.alias("_derived")).with_columns(
        pl.when(ok).then(pl.coalesce("g_value", "_derived", "d_value")).alias("value"),
        pl.when(~ok)
        .then(None)
        .when(pl.col("g_value").is_not_null())
        .then(pl.lit("golden"))
        .when(pl.col("_derived").is_not_null())
        .then(pl.lit("derived"))
        .when(pl.col("d_value").is_not_null())
        .then(pl.lit("delivery"))
        .alias("source"),
    )
    detail = (
        pl.when(pl.col("source") == "golden")
        .then(pl.lit("core.persons:") + pl.col("person_id"))
        .when(pl.col("source") == "derived")
        .then(
            pl.when(pl.col("element_code").is_in(["sex", "birth_date"]))
            .then(pl.lit("core.persons.id_number"))
            .otherwise(pl.lit("core.persons.birth_date@") + pl.col("coverage_date").cast(pl.String))
        )
        .when(pl.col("source") == "delivery")
        .then(pl.col("d_source"))
        .when(pl.col("element_code").is_null())
        .then(pl.lit("blank:no_catalogued_element"))
        .when(~ok)
        .then(pl.lit("blank:policy:") + pl.col("why").fill_null("no_decision"))
        .otherwise(pl.lit("blank:no_value_held"))
    )
    return cells.with_columns(detail.alias("source_detail"), pl.col("value").is_not_null().alias("prefilled"))


def assign_ids(roster: pl.DataFrame, cells: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Give every (committee, form, period) its content-addressed prefill id, on the roster and the cells."""
    content = (
        cells.sort("seq", "field_order")
        .group_by("committee_code", "form_code", "period")
        .agg(
            pl.concat_str([pl.col("person_id"), pl.col("field_order").cast(pl.String),
                           pl.col("value").fill_null("")], separator="=").str.join("|").alias("_c")
        )
    )  # fmt: skip
    keys = (
        roster.select("committee_code", "form_code", "period")
        .unique()
        .join(content, on=["committee_code", "form_code", "period"], how="left")
    )
    ids = keys.with_columns(
        pl.struct("committee_code", "form_code", "period", "_c")
        .map_elements(
            lambda s: prefill_id(s["committee_code"], s["form_code"], s["period"], s["_c"] or ""),
            return_dtype=pl.String,
        )
        .alias("prefill_id")
    ).drop("_c")
    on = ["committee_code", "form_code", "period"]
    roster = roster.join(ids, on=on, how="left")
    cells = cells.join(ids, on=on, how="left").select(list(CELL_SCHEMA)).cast(CELL_SCHEMA)
    return roster, cells
