"""What `jianfu run` prints at the end: tables with row counts, files by status, quarantined and skipped rows,
the per-file accounting, and each domain's headline (forms, reflow, persons, publishing).

A night that changed nothing prints the summary kept from the last run that did (`run:summary` in
ops.stage_fingerprints, keyed by every recorded fingerprint and the landing root) instead of counting every
table again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import polars as pl

from assets.common import fingerprint
from assets.common.warehouse import connect as warehouse_connect
from assets.ingest import pipeline as ingest_pipeline
from pipelines import incremental as incremental_plan

SUMMARY_TABLES = (
    "core.divisions", "catalog.forms", "catalog.form_catalog_fields", "raw.landing_files", "raw.skipped_rows",
    "staging.form_records", "staging.form_values", "quarantine.rows", "quarantine.catalog_problems",
)  # fmt: skip


SUMMARY_STAGE = "run:summary"


def _summary_key(con: duckdb.DuckDBPyConnection) -> str | None:
    """Every stage's recorded fingerprint and last write, and the landing root: a run that changed anything
    recorded something (the reflow legs are a cache of what is there, no change)."""
    if not fingerprint.tables_exist(con, (fingerprint.STATE_TABLE,)):
        return None
    rows = con.execute(f"SELECT stage, fingerprint, run_id, CAST(recorded_at AS VARCHAR) FROM {fingerprint.STATE_TABLE} "
                       "WHERE stage NOT IN (?, ?, ?) ORDER BY 1", [SUMMARY_STAGE, incremental_plan.LEGS_STAGE,
                                                      incremental_plan.ASSET_GRAPH_STAGE]).fetchall()  # fmt: skip
    return fingerprint.digest([list(map(str, r)) for r in rows], os.environ.get("JIANFU_LANDING", ""))


def summary(warehouse: Path, reuse: bool = False) -> str:
    """Tables with row counts, quarantined rows per reason, rejected files, and the per-file accounting.

    With `reuse` (after a nightly run), the summary written after the last run that changed anything is
    printed again when nothing was recorded since: a night with nothing new does not count every table."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        key = _summary_key(con)
        stored = con.execute(f"SELECT fingerprint, parts, CAST(recorded_at AS VARCHAR) FROM {fingerprint.STATE_TABLE} "
                             "WHERE stage = ?", [SUMMARY_STAGE]).fetchall() if key else []  # fmt: skip
    finally:
        con.close()
    if reuse and stored and stored[0][0] == key:
        text = json.loads(stored[0][1]).get(SUMMARY_STAGE, "")
        return f"(nothing changed since the run summarized at {stored[0][2][:19]} UTC: its summary)\n{text}"
    text = _summary(warehouse)
    if key:
        try:
            with warehouse_connect(warehouse) as con:
                fingerprint.record(con, {SUMMARY_STAGE: key}, parts={SUMMARY_STAGE: text})
        except duckdb.Error:  # another process writes the warehouse: the summary is printed, not kept
            pass
    return text


def _summary(warehouse: Path) -> str:
    lines: list[str] = []
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        from assets.ingest.parquet_store import TABLES as INGEST_VIEWS  # views over the Parquet store

        tables = con.sql(
            "SELECT table_schema || '.' || table_name AS t FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' OR list_contains(?, table_schema || '.' || table_name) ORDER BY 1",
            params=[list(INGEST_VIEWS)],
        ).fetchall()
        lines.append("Tables (rows):")
        for (table,) in tables:
            n = con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            lines.append(f"  {table:<40} {n:>12,}")
        lines.append("Files by status (every file under the landing root):")
        by_status = {status: (n, rows) for status, n, rows in con.sql(
            "SELECT status, count(*), sum(rows_read) FROM raw.landing_files GROUP BY 1").fetchall()}  # fmt: skip
        statuses = ("ingested", "rejected", "superseded", "duplicate", "ignored")
        for status in (*statuses, *sorted(set(by_status) - set(statuses))):
            n, rows = by_status.get(status, (0, 0))
            lines.append(f"  {status:<12} {n:>6,} files {int(rows or 0):>10,} rows")
        ignored = con.sql("SELECT reason_code, count(*) FROM raw.landing_files WHERE status = 'ignored' "
                          "GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()  # fmt: skip
        if ignored:
            lines.append("Ignored files (not deliveries) by reason:")
            lines += [f"  {reason or '-':<28} {n:>8,}" for reason, n in ignored]
        replaced = con.sql("SELECT status, source_file, replaced_by FROM raw.landing_files "
                           "WHERE status IN ('duplicate', 'superseded') ORDER BY 1, 2").fetchall()  # fmt: skip
        if replaced:
            lines.append("Duplicate (same bytes) and superseded files, with the file that replaced them:")
            lines += [f"  {status:<10} {source} → {by}" for status, source, by in replaced[:10]]
            if len(replaced) > 10:
                lines.append(f"  … and {len(replaced) - 10} more (raw.landing_files.replaced_by)")
        lines.append("Quarantined rows by reason:")
        for reason, n in con.sql(
            "SELECT reason_code, count(*) FROM quarantine.rows GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall():
            lines.append(f"  {reason:<28} {n:>8,}")
        lines.append("Rejected files by reason:")
        for reason, n in con.sql(
            "SELECT reason_code, count(*) FROM quarantine.rejected_files GROUP BY 1 ORDER BY 1"
        ).fetchall():
            lines.append(f"  {reason:<28} {n:>8,}")
        lines.append("Skipped non-data rows by reason:")
        for reason, n in con.sql(
            "SELECT reason, count(*) FROM raw.skipped_rows GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall():
            lines.append(f"  {reason:<28} {n:>8,}")
        accounting = ingest_pipeline.file_accounting(con)
        totals = accounting.select(
            pl.col("rows_read", "staged", "quarantined", "skipped", "replaced", "unaccounted").sum()
        )
        t = totals.row(0, named=True)
        bad = accounting.filter(pl.col("unaccounted") != 0).height
        lines.append(
            f"Row accounting: read {t['rows_read']:,} = staged {t['staged']:,} + quarantined {t['quarantined']:,} "
            f"+ skipped {t['skipped']:,} + replaced {t['replaced']:,}; unaccounted {t['unaccounted']:,}; "
            f"files that do not add up: {bad} of {accounting.height}"
        )
        lines += _landing_line(con)
        lines += _domain_headlines(con)
    finally:
        con.close()
    return "\n".join(lines)


def _landing_line(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Landing level: every file under the landing root registered (the catalog/ folder aside)."""
    from assets.common.warehouse import table_exists
    from assets.ingest.accounting import landing_accounting
    from assets.ingest.rules import load_delivery_rules

    landing = os.environ.get("JIANFU_LANDING")
    if not landing or not Path(landing).is_dir() or not table_exists(con, "core.divisions"):
        return []
    districts = dict(con.sql("SELECT DISTINCT district_code, district_name FROM core.divisions").fetchall())
    missing, totals = landing_accounting(con, Path(landing), districts, load_delivery_rules())
    return [f"Landing accounting: {totals['files']:,} files registered; files under the landing root missing from "
            f"raw.landing_files: {missing.height}" + (f" (e.g. {missing['source_file'][0]})" if missing.height else "")]  # fmt: skip


def _domain_headlines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The headline figures each downstream domain reports, when its tables exist."""
    from assets.common.warehouse import table_exists

    lines: list[str] = []
    if table_exists(con, "marts.burden_by_committee"):
        from assets.forms.pipeline import format_headline, headline

        lines += ["", "Burden (一表通):", format_headline(headline(con))]
    if table_exists(con, "reflow.prefill_files"):  # reflow (issue 13)
        from assets.reflow.observed import headline as reflow_headline

        lines += ["", "Return flow (数据回流):", *reflow_headline(con)]
    if table_exists(con, "core.persons"):
        persons, records = con.sql(
            "SELECT (SELECT count(*) FROM core.persons), (SELECT count(*) FROM core.person_records)"
        ).fetchall()[0]
        lines += ["", "Persons (one person, one record):", f"{records:,} source rows → {persons:,} persons"]
        truth = _ground_truth_beside(con)
        if truth is not None:
            from assets.persons.resolve import evaluate_warehouse

            m = evaluate_warehouse(con, truth)
            lines.append(
                "against the generator's ground truth: "
                + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v:,}" for k, v in m.items())
            )
    if table_exists(con, "audit.publication_runs"):
        row = con.sql(
            "SELECT products, products_by_tier, seconds, denials, leak_scan_summary FROM audit.publication_runs "
            "ORDER BY published_at DESC LIMIT 1"
        ).fetchall()
        if row:
            products, by_tier, seconds, denials, scan = row[0]
            lines += ["", "Publishing (分级分类):",
                      f"{products} products {by_tier} in {seconds:.1f}s; {denials} denials (see publish.denials)",
                      scan]  # fmt: skip
    return lines


def _ground_truth_beside(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The ground truth of the landing zone the warehouse was built from, when it is a generated one."""
    landing = os.environ.get("JIANFU_LANDING")
    if not landing:
        return None
    truth = Path(landing).parent / "ground_truth.parquet"
    return truth if truth.exists() else None
