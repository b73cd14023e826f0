"""`staging.person_rows`: one row per staged record with the identity attributes pivoted out of form_values.

Element codes come from `catalog.form_fields` (the forms team's better mapping) when that table exists,
else from `staging.form_values.element_code` (exact synonym match at ingestion).
"""

from __future__ import annotations

import duckdb
import polars as pl

from assets.common import warehouse

PERSON_ROWS = "staging.person_rows"
ELEMENTS = ("person_name", "citizen_id", "sex", "birth_date", "birth_month", "phone", "household_address",
            "residence_address")  # fmt: skip
PERSON_ROW_COLUMNS = [
    "record_id", "source_file", "row_number", "committee_code", "district_code", "form_code", "period",
    "period_start", "person_name", "id_number", "id_status", "sex", "birth_date", "birth_precision", "phone",
    "household_address", "residence_address",
]  # fmt: skip

PERIOD_START_SQL = """
CASE
  WHEN regexp_full_match({p}, '\\d{{4}}-\\d{{2}}-\\d{{2}}') THEN TRY_CAST({p} AS DATE)
  WHEN regexp_full_match({p}, '\\d{{4}}-\\d{{2}}') THEN TRY_CAST({p} || '-01' AS DATE)
  WHEN regexp_full_match({p}, '\\d{{4}}Q[1-4]') THEN
    make_date(CAST(left({p}, 4) AS INTEGER), 3 * CAST(right({p}, 1) AS INTEGER) - 2, 1)
  WHEN regexp_full_match({p}, '\\d{{4}}') THEN make_date(CAST({p} AS INTEGER), 1, 1)
END"""


def person_rows_sql(con: duckdb.DuckDBPyConnection) -> str:
    """The SELECT that builds person rows from the staged tables present in `con`."""
    if warehouse.table_exists(con, "catalog.form_fields"):
        element = "coalesce(ff.element_code, fv.element_code)"
        join = (
            "LEFT JOIN (SELECT form_code, field_label, any_value(element_code) AS element_code "
            "FROM catalog.form_fields WHERE element_code IS NOT NULL GROUP BY ALL) ff "
            "ON ff.form_code = fv.form_code AND ff.field_label = fv.field_label"
        )
    else:
        element, join = "fv.element_code", ""
    pick = ",\n  ".join(
        f"arg_min(value, coalesce(field_order, 100000)) FILTER (WHERE element = '{e}' AND value IS NOT NULL) "
        f"AS v_{e}"
        for e in ELEMENTS
    )
    elements = ", ".join(f"'{e}'" for e in ELEMENTS)
    return f"""
WITH v AS (
  SELECT fv.record_id, {element} AS element, nullif(trim(coalesce(fv.value, fv.value_raw)), '') AS value,
         fv.field_order
  FROM staging.form_values fv {join}
),
p AS (
  SELECT record_id,
  {pick}
  FROM v WHERE element IN ({elements}) GROUP BY record_id
)
SELECT
  r.record_id, r.source_file, CAST(r.row_number AS INTEGER) AS row_number, r.committee_code, r.district_code,
  r.form_code, r.period, {PERIOD_START_SQL.format(p="r.period")} AS period_start,
  coalesce(nullif(trim(r.person_name), ''), p.v_person_name) AS person_name,
  -- an ID that went through a float (precision_lost) is unknown, never matched on its damaged digits
  CASE WHEN r.id_status = 'precision_lost' THEN NULL
       ELSE coalesce(r.id_number, nullif(trim(r.id_number_raw), ''), p.v_citizen_id) END AS id_number,
  coalesce(r.id_status, 'blank') AS id_status,
  p.v_sex AS sex,
  coalesce(TRY_CAST(left(p.v_birth_date, 10) AS DATE),
           TRY_CAST(left(p.v_birth_month, 7) || '-01' AS DATE)) AS birth_date,
  CASE WHEN TRY_CAST(left(p.v_birth_date, 10) AS DATE) IS NOT NULL THEN 'day'
       WHEN TRY_CAST(left(p.v_birth_month, 7) || '-01' AS DATE) IS NOT NULL THEN 'month' END AS birth_precision,
  p.v_phone AS phone, p.v_household_address AS household_address, p.v_residence_address AS residence_address
FROM staging.form_records r LEFT JOIN p USING (record_id)
"""


def build_person_rows(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Person rows for every staged record, sorted by record_id."""
    frame = warehouse.read_frame(con, person_rows_sql(con) + " ORDER BY record_id")
    # reflow (issue 13): corrections and new residents from returned prefilled files, source_file = the return
    if warehouse.table_exists(con, "reflow.person_evidence"):
        extra = warehouse.read_frame(con, "SELECT * FROM reflow.person_evidence").select(PERSON_ROW_COLUMNS)
        frame = pl.concat([frame.select(PERSON_ROW_COLUMNS), extra], how="vertical_relaxed").sort("record_id")
    return frame.select(PERSON_ROW_COLUMNS)


def write_person_rows(con: duckdb.DuckDBPyConnection) -> int:
    return warehouse.replace_table(con, PERSON_ROWS, build_person_rows(con))
