"""What a prefill build reads from the warehouse, one district at a time.

The city-wide parts (catalogue, policy, every committee's applicable forms) are small and read once. The
large parts — the latest delivery per committee and form (persons on last period's forms) and the latest
held value per person and element — are computed once in DuckDB as temporary tables (DuckDB spills them
under its memory limit), then each district reads only its own share into polars: the persons living in
the district and the persons on its committees' last forms. Peak memory follows the largest district, not
the city (the whole-city frames held at once took the reflow stage from 8.3 to 11.9 GB at bench scale).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import polars as pl

from assets.common import warehouse

EXITS = "reflow.roster_exits"  # written by reconciliation: removals with a reason
RETURN_CELLS = "reflow.return_cells"
LAST, DELIVERED = "_rf_last", "_rf_delivered"

_LAST_SQL = f"""
CREATE OR REPLACE TEMP TABLE {LAST} AS
WITH latest AS (
  SELECT committee_code, form_code, max(period) AS period FROM staging.form_records
  WHERE committee_code IS NOT NULL GROUP BY ALL
),
last AS (
  SELECT DISTINCT r.committee_code, r.form_code, r.period, pr.person_id
  FROM staging.form_records r JOIN latest USING (committee_code, form_code, period)
  JOIN core.person_records pr USING (record_id)
)
SELECT last.*, left(last.committee_code, 6) AS district, left(p.committee_code, 6) AS home_district
FROM last LEFT JOIN core.persons p USING (person_id)
"""
_DELIVERED_SQL = f"""
CREATE OR REPLACE TEMP TABLE {DELIVERED} AS
WITH ff AS (SELECT form_code, field_order, any_value(element_code) AS element_code FROM catalog.form_fields
            WHERE status = 'mapped' AND element_code IS NOT NULL GROUP BY ALL),
home AS (SELECT person_id, left(committee_code, 6) AS home_district FROM core.persons
         WHERE left(committee_code, 6) IN (SELECT unnest(?::VARCHAR[]))),
v AS (
  SELECT pr.person_id, ff.element_code, nullif(trim(coalesce(v.value, v.value_raw)), '') AS d_value,
         r.period, r.form_code, r.source_file || '#' || CAST(r.row_number AS VARCHAR) AS d_source
  FROM staging.form_values v JOIN staging.form_records r USING (record_id)
  JOIN core.person_records pr USING (record_id)
  JOIN ff ON ff.form_code = v.form_code AND ff.field_order = v.field_order
  {{returns}}
)
SELECT home_district, person_id, element_code, arg_max(d_value, period || form_code || d_source) AS d_value,
       arg_max(d_source, period || form_code || d_source) AS d_source
FROM v JOIN home USING (person_id) WHERE d_value IS NOT NULL GROUP BY ALL
"""
# values staff corrected or typed on returned files count as delivered on the next build
_RETURNS_SQL = f"""
  UNION ALL
  SELECT person_id, element_code, nullif(trim(returned_value), ''), period, form_code,
         return_file || '#' || CAST(row_number AS VARCHAR)
  FROM {RETURN_CELLS} WHERE outcome IN ('corrected', 'typed') AND person_id IS NOT NULL
    AND element_code IS NOT NULL
"""
PERSON_COLUMNS = ("person_id, person_name, id_number, sex, birth_date, phone, household_address, "
                  "residence_address, committee_code")  # fmt: skip
EXIT_SCHEMA = {
    "person_id": pl.String,
    "committee_code": pl.String,
    "form_code": pl.String,
    "reason": pl.String,
}


# DuckDB's share of the reflow stage's memory: the city-wide temporary tables spill beyond it
MEMORY_LIMIT = "1GB"


@contextmanager
def memory_limit(con: duckdb.DuckDBPyConnection, limit: str | None = None) -> Iterator[None]:
    """Run with DuckDB's memory limit at `limit` (`JIANFU_REFLOW_DUCKDB_MEMORY`, default 1 GB), then restore
    the connection's own: the reflow stage's peak stays bounded while DuckDB spills to its temp directory."""
    limit = limit or os.environ.get("JIANFU_REFLOW_DUCKDB_MEMORY") or MEMORY_LIMIT
    before = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    con.execute(f"SET memory_limit = '{limit}'")
    try:
        yield
    finally:
        con.execute(f"SET memory_limit = '{before}'")


def load_shared(con: duckdb.DuckDBPyConnection, districts: list[str]) -> dict[str, pl.DataFrame]:
    """The small city-wide inputs, and the temporary tables each district reads its share from."""
    con.execute(_LAST_SQL)
    returns = _RETURNS_SQL if warehouse.table_exists(con, RETURN_CELLS) else ""
    con.execute(_DELIVERED_SQL.format(returns=returns), [districts])
    return {
        # every committee that delivers: the applicable forms of all of them tell whether a person's last
        # form was one the committee is sent (a move between districts keeps the person on the form)
        "committees": warehouse.read_frame(
            con,
            "SELECT committee_code, committee_name, committee_kind, district_code FROM core.divisions "
            "WHERE committee_code IN (SELECT DISTINCT committee_code FROM staging.form_records) ORDER BY 1",
        ),  # fmt: skip
        "forms": warehouse.read_frame(con, "SELECT * FROM catalog.forms ORDER BY form_code"),
        "fields": warehouse.read_frame(
            con,
            "SELECT form_code, field_order, field_label, field_type, element_code, status FROM catalog.form_fields",
        ),
        "latest": warehouse.read_frame(
            con, "SELECT form_code, max(period) AS period FROM staging.form_records GROUP BY 1"
        ),
        "exits": warehouse.read_frame(
            con, f"SELECT person_id, committee_code, form_code, reason FROM {EXITS}"
        )
        if warehouse.table_exists(con, EXITS)
        else pl.DataFrame(schema=EXIT_SCHEMA),
    }


def load_district(con: duckdb.DuckDBPyConnection, district: str) -> dict[str, pl.DataFrame]:
    """District `district`'s share: last forms of its committees and of persons now living in it, those
    persons' golden records, and the values held for its residents."""
    last = warehouse.read_frame(
        con,
        f"SELECT committee_code, form_code, period, person_id FROM {LAST} WHERE district = ? OR home_district = ?",
        [district, district],
    )  # fmt: skip
    persons = warehouse.read_frame(
        con,
        f"SELECT {PERSON_COLUMNS} FROM core.persons WHERE left(committee_code, 6) = ? "
        f"OR person_id IN (SELECT person_id FROM {LAST} WHERE district = ?)",
        [district, district],
    )  # fmt: skip
    delivered = warehouse.read_frame(
        con, f"SELECT person_id, element_code, d_value, d_source FROM {DELIVERED} WHERE home_district = ?",
        [district],
    )  # fmt: skip
    return {"last": last, "persons": persons, "delivered": delivered}


def drop_temporary(con: duckdb.DuckDBPyConnection) -> None:
    for table in (LAST, DELIVERED):
        con.execute(f"DROP TABLE IF EXISTS {table}")
