"""`staging.person_rows`: one row per staged record with the identity attributes pivoted out of form_values.

Element codes come from `catalog.form_fields` (the forms team's better mapping) when that table exists,
else from `staging.form_values.element_code` (exact synonym match at ingestion).
"""

from __future__ import annotations

import duckdb
import polars as pl

from assets.common import fingerprint as fp
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
  /*only_values*/
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
/*only_records*/
"""


def _select(con: duckdb.DuckDBPyConnection, only: str | None = None) -> str:
    """The SELECT for every staged record, or only those whose record_id is in the relation `only`."""
    sql = person_rows_sql(con)
    if only is None:
        return sql
    return sql.replace("/*only_values*/", f"SEMI JOIN {only} USING (record_id)").replace(
        "/*only_records*/", f"WHERE r.record_id IN (SELECT record_id FROM {only})"
    )


def _all_rows_sql(con: duckdb.DuckDBPyConnection) -> str:
    """Person rows of every staged record, plus the return evidence, sorted by record_id."""
    cols = ", ".join(PERSON_ROW_COLUMNS)
    sql = f"SELECT {cols} FROM ({_select(con)})"
    # reflow (issue 13): corrections and new residents from returned prefilled files, source_file = the return
    if warehouse.table_exists(con, "reflow.person_evidence"):
        sql += f" UNION ALL BY NAME SELECT {cols} FROM reflow.person_evidence"
    return f"SELECT {cols} FROM ({sql}) ORDER BY record_id"


def build_person_rows(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Person rows for every staged record, sorted by record_id."""
    return warehouse.read_frame(con, _all_rows_sql(con))


def write_person_rows(con: duckdb.DuckDBPyConnection) -> int:
    """The whole table, built inside DuckDB (no frame of every row in Python: it spills within its limit)."""
    con.execute(f"CREATE OR REPLACE TABLE {PERSON_ROWS} AS {_all_rows_sql(con)}")
    n = con.execute(f"SELECT count(*) FROM {PERSON_ROWS}").fetchall()[0][0]
    fp.record(con, {GLOBAL_STAGE: _global_digest(con)})
    return n


GLOBAL_STAGE = "plan:person_rows:global"


def _global_digest(con: duckdb.DuckDBPyConnection) -> str:
    """What every person row depends on besides its own record: the field mapping and this code."""
    if not warehouse.table_exists(con, "catalog.form_fields"):
        return fp.digest("no catalog.form_fields", fp.code_fingerprint(["assets/persons/rows.py"]))
    n, h = con.execute("SELECT count(*), bit_xor(hash(form_code, field_label, element_code)) FROM catalog.form_fields "
                       "WHERE element_code IS NOT NULL").fetchall()[0]  # the columns the pivot reads  # fmt: skip
    return fp.digest(f"{n}:{h}", fp.code_fingerprint(["assets/persons/rows.py"]))


def update_person_rows(con: duckdb.DuckDBPyConnection) -> tuple[str, int, int]:
    """Bring staging.person_rows up to date: rows of records that appeared are built, rows of records that
    disappeared are deleted, the others are kept (a record id carries its file's content hash, so a kept
    record's values are the same). Return evidence rows are replaced whole (a small table). A changed field
    mapping or code rebuilds everything. Returns (mode, rows added, rows deleted)."""
    if not warehouse.table_exists(con, PERSON_ROWS) or fp.stored(con, [GLOBAL_STAGE]).get(GLOBAL_STAGE) != (
        _global_digest(con)
    ):
        return "full", write_person_rows(con), 0
    con.execute("CREATE OR REPLACE TEMP TABLE _pr_new AS SELECT record_id FROM staging.form_records "
                f"ANTI JOIN {PERSON_ROWS} USING (record_id)")  # fmt: skip
    evidence = warehouse.table_exists(con, "reflow.person_evidence")
    con.execute("BEGIN TRANSACTION")
    try:
        # rows of records no longer staged (superseded files) and every evidence row (re-added below)
        deleted = con.execute(
            f"DELETE FROM {PERSON_ROWS} WHERE record_id NOT IN (SELECT record_id FROM staging.form_records)"
        ).fetchall()[0][0]
        cols = ", ".join(PERSON_ROW_COLUMNS)
        con.execute(f"INSERT INTO {PERSON_ROWS} ({cols}) SELECT {cols} FROM ({_select(con, '_pr_new')})")
        added = con.execute("SELECT count(*) FROM _pr_new").fetchall()[0][0]
        if evidence:
            extra = warehouse.read_frame(con, "SELECT * FROM reflow.person_evidence").select(
                PERSON_ROW_COLUMNS
            )
            arrow = extra.to_arrow()  # noqa: F841  (referenced by name in the SQL below)
            con.execute(f"INSERT INTO {PERSON_ROWS} BY NAME SELECT * FROM arrow")
            added += extra.height
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DROP TABLE IF EXISTS _pr_new")
    return "partial", added, deleted
