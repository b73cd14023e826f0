"""Recompute `marts.prefill_plan` only for the committees whose inputs changed (no dagster here).

The plan rows of committee c are a function of
- c's staged records (record id, form, period, person key) and their filled values, and
- the facts each person on those records already holds, i.e. the records of the same persons anywhere;
- plus global inputs: plan settings, catalog.form_fields, catalog.data_elements, the ingestion versions.

A record id carries its file's content hash (assets/ingest/stage.py), so a record's values never change
under the same id. The plan therefore keeps a snapshot of (record id, committee, person) it was built
from (`ops.prefill_plan_inputs`). On the next build the records that appeared, disappeared or changed
person are *dirty*; their persons are dirty; a committee is recomputed when it has a dirty record or a
record of a dirty person. Every other committee's rows are left as they are. When a global input changed,
or no snapshot exists, or most committees are dirty, the whole plan is rebuilt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb
import polars as pl

from assets.common import fingerprint as fp
from assets.common import warehouse
from assets.forms import plan
from assets.forms.dictionary import PlanSettings

log = logging.getLogger(__name__)

PLAN_TABLE = "marts.prefill_plan"
SNAPSHOT = "ops.prefill_plan_inputs"
GLOBAL_STAGE = "plan:prefill_plan:global"
FULL_SHARE = 0.6  # above this share of dirty committees a whole rebuild is as cheap


@dataclass(frozen=True)
class PlanUpdate:
    mode: str  # "full" (why in `reason`) or "partial"
    reason: str
    committees: int  # committees in the plan
    recomputed: int  # committees whose rows were recomputed
    rows_written: int


_DIRTY_SQL = f"""
WITH d AS (
  SELECT c.committee_code AS c_new, o.committee_code AS c_old, c.person AS p_new, o.person AS p_old
  FROM _plan_cur c FULL JOIN {SNAPSHOT} o ON o.record_id = c.record_id
  WHERE c.record_id IS NULL OR o.record_id IS NULL OR c.person IS DISTINCT FROM o.person
     OR c.committee_code IS DISTINCT FROM o.committee_code
),
p AS (SELECT p_new AS person FROM d WHERE p_new IS NOT NULL
      UNION SELECT p_old FROM d WHERE p_old IS NOT NULL)
SELECT c_new AS committee_code FROM d WHERE c_new IS NOT NULL
UNION SELECT c_old FROM d WHERE c_old IS NOT NULL
UNION SELECT committee_code FROM _plan_cur JOIN p USING (person)
"""


def global_digest(con: duckdb.DuckDBPyConnection, settings: PlanSettings) -> str:
    """Inputs that every committee's rows depend on."""
    versions = con.execute(
        "SELECT list(DISTINCT ingest_version ORDER BY ingest_version) FROM raw.landing_files"
    ).fetchall()[0][0] if warehouse.table_exists(con, "raw.landing_files") else []  # fmt: skip
    return fp.digest(
        settings.model_dump_json(),
        # only the columns the plan reads: a confidence that moves with tonight's value profiles is no change
        _content(
            con, "SELECT form_code, field_order, field_label, element_code, status FROM catalog.form_fields"
        ),
        _content(con, "SELECT element_code, status, sharing, derivable_from FROM catalog.data_elements"),
        str(versions),
        fp.code_fingerprint(
            ["assets/forms/plan.py", "assets/forms/plan_sql.py", "assets/forms/plan_delta.py"]
        ),
    )


def _content(con: duckdb.DuckDBPyConnection, select: str) -> str:
    """Order-independent digest of a query's rows."""
    n, h = con.execute(f"SELECT count(*), bit_xor(hash(t)) FROM ({select}) t").fetchall()[0]
    return f"{n}:{h}"


def dirty_committees(con: duckdb.DuckDBPyConnection, current: pl.DataFrame) -> list[str]:
    """Committees with a record that appeared, disappeared or changed person, or a record of such a person."""
    con.register("_plan_cur", current.select("record_id", "committee_code", "person").to_arrow())
    try:
        return sorted(r[0] for r in con.execute(_DIRTY_SQL).fetchall())
    finally:
        con.unregister("_plan_cur")


def update_prefill_plan(
    con: duckdb.DuckDBPyConnection,
    settings: PlanSettings,
    form_fields: pl.DataFrame,
    elements: pl.DataFrame,
    full: bool = False,
) -> PlanUpdate:
    """Bring marts.prefill_plan up to date, recomputing as few committees as is exact."""
    fields = plan._field_table(form_fields, elements)
    records = plan.keyed_records(con, settings, fields)
    committees = records["committee_code"].n_unique()
    digest = global_digest(con, settings)
    reason = ""
    if full:
        reason = "full rebuild asked for"
    elif not warehouse.table_exists(con, PLAN_TABLE) or not warehouse.table_exists(con, SNAPSHOT):
        reason = "no earlier plan"
    elif fp.stored(con, [GLOBAL_STAGE]).get(GLOBAL_STAGE) != digest:
        reason = "settings, field mapping, elements or ingestion version changed"
    dirty: list[str] = []
    if not reason:
        dirty = dirty_committees(con, records)
        if len(dirty) > FULL_SHARE * max(committees, 1):
            reason = f"{len(dirty)} of {committees} committees changed"
    if reason:
        frame = plan.plan_for(con, settings, fields, records.with_columns(pl.lit(True).alias("in_scope")))
        con.execute("BEGIN TRANSACTION")
        warehouse.replace_table(con, PLAN_TABLE, frame)
        _write_snapshot(con, records, digest)
        con.execute("COMMIT")
        log.info("prefill plan: full rebuild (%s), %s committees", reason, committees)
        return PlanUpdate("full", reason, committees, committees, frame.height)
    if dirty:
        scope = pl.Series(dirty, dtype=pl.String)
        persons = records.filter(pl.col("committee_code").is_in(scope))["person"].drop_nulls().unique()
        part = records.filter(pl.col("committee_code").is_in(scope) | pl.col("person").is_in(persons))
        frame = plan.plan_for(
            con, settings, fields, part.with_columns(pl.col("committee_code").is_in(scope).alias("in_scope"))
        )
        con.execute("BEGIN TRANSACTION")
        arrow = frame.to_arrow()  # noqa: F841  (referenced by name in the SQL below)
        con.execute(
            f"DELETE FROM {PLAN_TABLE} WHERE committee_code IN (SELECT unnest(?::VARCHAR[]))", [dirty]
        )
        if frame.height:
            con.execute(f"INSERT INTO {PLAN_TABLE} BY NAME SELECT * FROM arrow")
        _write_snapshot(con, records, digest)
        con.execute("COMMIT")
        log.info("prefill plan: %s of %s committees recomputed", len(dirty), committees)
        return PlanUpdate("partial", "", committees, len(dirty), frame.height)
    return PlanUpdate("partial", "", committees, 0, 0)


def _write_snapshot(con: duckdb.DuckDBPyConnection, records: pl.DataFrame, digest: str) -> None:
    """What the plan was built from (inside the caller's transaction)."""
    snapshot = records.select("record_id", "committee_code", "person").to_arrow()  # noqa: F841
    con.execute("CREATE SCHEMA IF NOT EXISTS ops")
    con.execute(f"CREATE OR REPLACE TABLE {SNAPSHOT} AS SELECT * FROM snapshot")
    fp.record(con, {GLOBAL_STAGE: digest})
