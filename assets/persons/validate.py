"""Pure validators behind the persons asset checks (no dagster import)."""

from __future__ import annotations

import duckdb
import polars as pl

from assets.common import warehouse
from assets.persons.resolve import PERSON_RECORDS, PERSONS
from assets.persons.rows import PERSON_ROWS


def record_coverage(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, int]:
    """Staged records with no person or with several, and person records with no staged row."""
    failing = warehouse.read_frame(
        con,
        f"""
        WITH a AS (SELECT record_id, count(*) AS n FROM {PERSON_RECORDS} GROUP BY record_id)
        SELECT coalesce(s.record_id, a.record_id) AS record_id,
               CASE WHEN a.n IS NULL THEN 'no person' WHEN s.record_id IS NULL THEN 'not staged'
                    ELSE 'in ' || a.n || ' persons' END AS problem
        FROM {PERSON_ROWS} s FULL JOIN a USING (record_id)
        WHERE a.n IS NULL OR s.record_id IS NULL OR a.n > 1
        ORDER BY record_id
        """,
    )
    total = warehouse.count_rows(con, PERSON_ROWS)
    return failing, total


def person_consistency(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, int]:
    """Persons whose record_count differs from their records, or persons without records."""
    failing = warehouse.read_frame(
        con,
        f"""
        WITH r AS (SELECT person_id, count(*) AS n FROM {PERSON_RECORDS} GROUP BY person_id)
        SELECT coalesce(p.person_id, r.person_id) AS person_id, p.record_count, r.n AS records_found
        FROM {PERSONS} p FULL JOIN r USING (person_id)
        WHERE p.person_id IS NULL OR r.person_id IS NULL OR p.record_count <> r.n
        ORDER BY 1
        """,
    )
    return failing, warehouse.count_rows(con, PERSONS)


def conflicting_ids(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, int]:
    """Persons holding two different valid 18-digit ID numbers (the clustering forbids it; legacy persons
    from an incremental run could still show one)."""
    failing = warehouse.read_frame(
        con,
        f"""
        SELECT pr.person_id, count(DISTINCT s.id_number) AS valid_ids, list(DISTINCT s.id_number)[:3] AS examples
        FROM {PERSON_RECORDS} pr JOIN {PERSON_ROWS} s USING (record_id)
        WHERE s.id_status = 'valid' AND length(s.id_number) = 18
        GROUP BY pr.person_id HAVING count(DISTINCT s.id_number) > 1 ORDER BY 1
        """,
    )
    return failing, warehouse.count_rows(con, PERSONS)
