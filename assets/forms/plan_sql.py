"""The SQL part of the prefill plan: per (form, committee, field) rows, covered rows and source forms.

The definitions are those of assets/forms/plan.py. What makes it fast and small at bench scale (1.2M
records, 8.8M values, ~8M cells):
- records and persons are numbered once (`rid`, `pid`), so every later join and group is on integers;
- the filled values are read once, as (record, element) pairs of the elements the plan can use;
- "does another form already hold this fact" is answered per cell from each (person, element)'s two
  earliest holding forms: the earliest holder that is not the cell's own form is the first of them, or
  the second when the first is the own form; so no cell is joined with every holding form;
- the source forms of a (form, committee, field) are the forms holding the fact before the latest
  collection of each person's cells there (the condition only widens as the collection date grows), so
  the join that lists them has one row per (group, person, element), not per cell.
Each step is a temp table: DuckDB frees one before the next grows (its memory limit and spill folder hold).
"""

from __future__ import annotations

import duckdb
import polars as pl

from assets.common import warehouse

NOT_SHAREABLE = "不予共享"
# DuckDB's share while the plan is computed (the warehouse connection allows more; beyond this it spills to
# the warehouse's temp folder). At bench scale: peak RSS 2.7 GB with 2GB, 3.4 GB with 6GB, ~8% more CPU.
PLAN_MEMORY_LIMIT = "2GB"

# Inputs registered by the caller: _rec0 (record_id, form_code, committee_code, district_code, township_code,
# period, person, in_scope), _periods (period, period_start, period_end), _fields (form_code, field_order,
# plan_element, sharing, …), _sources (form_code, field_order, source_element, is_self).
_STEPS = [
    # records with a readable period, numbered; persons numbered (NULL stays NULL: never covered)
    """
    CREATE OR REPLACE TEMP TABLE _pl_rec AS
    SELECT row_number() OVER () AS rid, r.record_id, r.form_code, r.committee_code, r.district_code,
           r.township_code, r.period, p.period_end AS collected, r.in_scope,
           CASE WHEN r.person IS NOT NULL THEN dense_rank() OVER (ORDER BY r.person) END AS pid
    FROM _rec0 r JOIN _periods p USING (period)
    """,
    # (record, element) pairs holding a non-empty value, for the elements the plan may use
    """
    CREATE OR REPLACE TEMP TABLE _pl_filled AS
    SELECT DISTINCT r.rid, f.plan_element AS element, r.pid, r.form_code, r.collected
    FROM staging.form_values v
    JOIN _pl_rec r USING (record_id)
    JOIN _fields f ON f.form_code = r.form_code AND f.field_order = v.field_order
    WHERE v.field_order IS NOT NULL AND f.plan_element IS NOT NULL
      AND nullif(trim(coalesce(v.value, v.value_raw)), '') IS NOT NULL
    """,
    # first collection of each (person, element) by each form
    """
    CREATE OR REPLACE TEMP TABLE _pl_held AS
    SELECT pid, element, form_code, min(collected) AS first_collected
    FROM _pl_filled WHERE pid IS NOT NULL
    GROUP BY ALL
    """,
    # each (person, element)'s two earliest holders, in (date, form) order
    """
    CREATE OR REPLACE TEMP TABLE _pl_first2 AS
    WITH k AS (
        SELECT pid, element, form_code, first_collected,
               row_number() OVER (PARTITION BY pid, element ORDER BY first_collected, form_code) AS k
        FROM _pl_held QUALIFY k <= 2
    )
    SELECT pid, element,
           any_value(first_collected) FILTER (WHERE k = 1) AS d1, any_value(form_code) FILTER (WHERE k = 1) AS g1,
           any_value(first_collected) FILTER (WHERE k = 2) AS d2, any_value(form_code) FILTER (WHERE k = 2) AS g2
    FROM k GROUP BY ALL
    """,
    # the cells of the committees in scope that may be covered (a person, a shareable element), per source
    """
    CREATE OR REPLACE TEMP TABLE _pl_cell_src AS
    SELECT r.rid, r.form_code, r.committee_code, s.field_order, r.collected, r.pid, s.source_element, s.is_self
    FROM _pl_rec r
    JOIN _fields f USING (form_code)
    JOIN _sources s ON s.form_code = f.form_code AND s.field_order = f.field_order
    WHERE r.in_scope AND r.pid IS NOT NULL AND f.sharing IS DISTINCT FROM '不予共享'
    """,
    # per (form, committee, field): cells covered by another form's earlier collection (returned), or derived
    # from another field of the same record; a cell is covered when any of its source elements is
    """
    CREATE OR REPLACE TEMP TABLE _pl_cover AS
    WITH x AS (
        SELECT c.rid, c.committee_code, c.field_order, c.form_code, c.collected,
               CASE WHEN t.g1 <> c.form_code THEN t.d1 ELSE t.d2 END AS other_d,
               CASE WHEN t.g1 <> c.form_code THEN t.g1 ELSE t.g2 END AS other_g,
               c.is_self, c.source_element, c.pid
        FROM _pl_cell_src c LEFT JOIN _pl_first2 t ON t.pid = c.pid AND t.element = c.source_element
    ),
    cell AS (
        SELECT x.form_code, x.committee_code, x.field_order, x.rid,
               bool_or(coalesce(x.other_d < x.collected
                                OR (x.other_d = x.collected AND x.other_g < x.form_code), false)
                       OR coalesce(? AND o.first_collected < x.collected, false)) AS returned,
               bool_or(NOT x.is_self AND fv.rid IS NOT NULL) AS derived
        FROM x
        LEFT JOIN _pl_held o
               ON ? AND o.pid = x.pid AND o.element = x.source_element AND o.form_code = x.form_code
        LEFT JOIN (SELECT rid, element FROM _pl_filled) fv
               ON NOT x.is_self AND fv.rid = x.rid AND fv.element = x.source_element
        GROUP BY ALL
    )
    SELECT form_code, committee_code, field_order,
           count(*) FILTER (WHERE returned OR derived) AS rows_covered,
           count(*) FILTER (WHERE returned) AS rows_returned,
           count(*) FILTER (WHERE derived) AS rows_derived
    FROM cell GROUP BY ALL
    """,
    # the forms a (form, committee, field)'s cells are returned from: for each person there, the forms
    # holding a source element before the person's latest record of the form there (the condition only
    # widens with the collection date, and every field of a record shares its date)
    """
    CREATE OR REPLACE TEMP TABLE _pl_src AS
    WITH g AS (
        SELECT form_code, committee_code, pid, max(collected) AS collected
        FROM _pl_rec WHERE in_scope AND pid IS NOT NULL GROUP BY ALL
    ),
    fs AS (  -- the source elements of each form's shareable fields
        SELECT s.form_code, s.field_order, s.source_element
        FROM _sources s JOIN _fields f USING (form_code, field_order)
        WHERE f.sharing IS DISTINCT FROM '不予共享'
    ),
    by_element AS (
        SELECT g.form_code, g.committee_code, e.source_element, list(DISTINCT h.form_code) AS forms
        FROM g
        JOIN (SELECT DISTINCT form_code, source_element FROM fs) e USING (form_code)
        JOIN _pl_held h ON h.pid = g.pid AND h.element = e.source_element
        WHERE (h.form_code <> g.form_code
               AND (h.first_collected < g.collected
                    OR (h.first_collected = g.collected AND h.form_code < g.form_code)))
           OR (? AND h.form_code = g.form_code AND h.first_collected < g.collected)
        GROUP BY ALL
    )
    SELECT b.form_code, b.committee_code, fs.field_order,
           list_sort(list_distinct(flatten(list(b.forms)))) AS source_forms
    FROM by_element b JOIN fs USING (form_code, source_element)
    GROUP BY ALL
    """,
]

_RESULT = """
WITH base AS (
    SELECT form_code, committee_code, any_value(district_code) AS district_code,
           any_value(township_code) AS township_code, count(DISTINCT period) AS deliveries, count(*) AS rows
    FROM _pl_rec WHERE in_scope GROUP BY ALL
)
SELECT b.form_code, b.committee_code, b.district_code, b.township_code, f.field_order, b.deliveries, b.rows,
       coalesce(c.rows_covered, 0) AS rows_covered, coalesce(c.rows_returned, 0) AS rows_returned,
       coalesce(c.rows_derived, 0) AS rows_derived, coalesce(s.source_forms, []) AS source_forms
FROM base b
JOIN _fields f USING (form_code)
LEFT JOIN _pl_cover c USING (form_code, committee_code, field_order)
LEFT JOIN _pl_src s USING (form_code, committee_code, field_order)
"""
_DONE_AFTER = {"_pl_cover": ["_pl_first2", "_pl_filled", "_pl_cell_src"], "_pl_src": ["_pl_held"]}
_TEMP = ["_pl_rec", "_pl_filled", "_pl_held", "_pl_first2", "_pl_cell_src", "_pl_cover", "_pl_src"]


def plan_counts(con: duckdb.DuckDBPyConnection, reuse_own_earlier_periods: bool) -> pl.DataFrame:
    """Per (form, committee, field) of the in-scope records: deliveries, rows, covered/returned/derived rows
    and source forms. `_rec0`, `_periods`, `_fields` and `_sources` must be registered on `con`."""
    reuse = bool(reuse_own_earlier_periods)
    limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    capped = _bytes(limit) > _bytes(PLAN_MEMORY_LIMIT)
    if capped:  # the rest of the step (and other steps on this connection) keep the connection's limit
        con.execute(f"SET memory_limit = '{PLAN_MEMORY_LIMIT}'")
    try:
        for step in _STEPS:
            con.execute(step, [reuse] * step.count("?"))
            for table in _DONE_AFTER.get(step.split("TEMP TABLE ", 1)[1].split()[0], []):
                con.execute(f"DROP TABLE {table}")  # no later step reads it: DuckDB may reuse its memory
        return warehouse.read_frame(con, _RESULT)
    finally:
        for table in _TEMP:
            con.execute(f"DROP TABLE IF EXISTS {table}")
        if capped:
            con.execute(f"SET memory_limit = '{limit}'")


def _bytes(setting: str) -> float:
    """DuckDB's memory setting ('5.5 GiB', '2GB', '768.0 MiB') in bytes."""
    number = float("".join(ch for ch in setting if ch.isdigit() or ch == "."))
    unit = "".join(ch for ch in setting if ch.isalpha()).upper()
    scale = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30,
             "TIB": 2**40}  # fmt: skip
    return number * scale.get(unit, 1)
