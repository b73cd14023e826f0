"""Ingesting one district's landing folder into the warehouse, incrementally and idempotently.

A district's tables mirror its landing folder: files whose content (hash) and parser version are
unchanged keep their rows untouched; new and changed files are read; rows of files that were
replaced, superseded by a correction or removed are deleted. All of it in one transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from assets.ingest import parallel, stage
from assets.ingest.catalog import Catalog, label_elements
from assets.ingest.layout import CatalogField, load_synonyms
from assets.ingest.reader import (
    FileRejected,
    LandingFile,
    current_deliveries,
    discover,
    parse_file,
    sha256_bytes,
)

DDL = """
CREATE TABLE IF NOT EXISTS raw.landing_files (
    file_id VARCHAR, file_hash VARCHAR, source_file VARCHAR, district_code VARCHAR, form_code VARCHAR, period VARCHAR,
    committee_code VARCHAR, file_format VARCHAR, encoding VARCHAR, sheet VARCHAR, size_bytes BIGINT,
    status VARCHAR, reason_code VARCHAR, message VARCHAR, warnings VARCHAR[],
    rows_read INTEGER, rows_staged INTEGER, rows_quarantined INTEGER, rows_skipped INTEGER,
    run_id VARCHAR, ingest_version VARCHAR, ingested_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS staging.form_records (
    record_id VARCHAR, file_id VARCHAR, file_hash VARCHAR, source_file VARCHAR, sheet VARCHAR, row_number INTEGER,
    run_id VARCHAR, district_code VARCHAR, township_code VARCHAR, committee_code VARCHAR, form_code VARCHAR,
    period VARCHAR, person_name VARCHAR, id_number VARCHAR, id_number_raw VARCHAR, id_status VARCHAR,
    id_birth_date DATE, id_sex VARCHAR, flags VARCHAR[]
);
CREATE TABLE IF NOT EXISTS staging.form_values (
    record_id VARCHAR, file_id VARCHAR, district_code VARCHAR, form_code VARCHAR, field_order INTEGER,
    field_label VARCHAR, header_label VARCHAR, field_type VARCHAR, element_code VARCHAR,
    value_raw VARCHAR, value VARCHAR, value_flag VARCHAR
);
CREATE TABLE IF NOT EXISTS quarantine.rows (
    record_id VARCHAR, file_id VARCHAR, file_hash VARCHAR, source_file VARCHAR, sheet VARCHAR, row_number INTEGER,
    run_id VARCHAR, district_code VARCHAR, form_code VARCHAR, period VARCHAR, committee_code VARCHAR,
    reason_code VARCHAR, field VARCHAR, message VARCHAR, raw_row VARCHAR
);
CREATE TABLE IF NOT EXISTS raw.skipped_rows (
    file_id VARCHAR, file_hash VARCHAR, source_file VARCHAR, sheet VARCHAR, row_number INTEGER, district_code VARCHAR,
    reason VARCHAR, raw_text VARCHAR
);
CREATE OR REPLACE VIEW quarantine.rejected_files AS
    SELECT file_id, file_hash, source_file, district_code, form_code, period, reason_code, message, rows_read, run_id
    FROM raw.landing_files WHERE status = 'rejected';
"""


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)


def file_id(source_file: str, file_hash: str) -> str:
    """A delivered file is its place plus its content: the same bytes filed for two periods are two files."""
    return hashlib.sha1(f"{source_file}\0{file_hash}".encode()).hexdigest()[:16]


@dataclass
class IngestContext:
    """What every district run needs besides its files, built once per run."""

    catalog: Catalog
    fields_by_form: dict[str, list[CatalogField]]
    frequency: dict[str, str]
    divisions: stage.Divisions
    synonyms: dict[str, str]

    @classmethod
    def build(cls, catalog: Catalog, divisions: pl.DataFrame) -> IngestContext:
        return cls(
            catalog=catalog,
            fields_by_form=catalog.fields_by_form(label_elements(catalog.fields)),
            frequency=catalog.frequency_by_form(),
            divisions=stage.Divisions.from_frame(divisions),
            synonyms=load_synonyms(),
        )


@dataclass
class DistrictResult:
    district_code: str
    files_seen: int
    files_read: int
    files_kept: int
    files_rejected: int
    files_superseded: int
    rows_read: int
    rows_staged: int
    rows_quarantined: int
    rows_skipped: int


def ingest_district(
    con: duckdb.DuckDBPyConnection,
    landing_root: Path,
    district_code: str,
    ctx: IngestContext,
    run_id: str,
    full_refresh: bool = False,
) -> DistrictResult:
    """Bring the district's tables in line with its landing folder; returns what this run did."""
    ensure_tables(con)
    landing_root = Path(landing_root)
    files, misplaced = discover(landing_root, district_code) if (landing_root / district_code).is_dir() else ([], [])
    current, superseded = current_deliveries(files)
    known = {
        r[0]: r[1]
        for r in con.execute(
            "SELECT file_id, ingest_version FROM raw.landing_files WHERE district_code = ? "
            "AND status IN ('ingested', 'rejected')",
            [district_code],
        ).fetchall()
    }
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    registry: list[dict[str, object]] = []
    result = parallel.stage_files(current, known, ctx, run_id, full_refresh)  # process pool: assets/ingest/parallel.py
    batch, keep_ids, staged = result, result.keep_ids, result.staged
    for source_file, winner in superseded.items():
        loser = next(f for f in files if f.source_file == source_file)
        loser_hash = sha256_bytes(loser.path.read_bytes())
        registry.append(_registry_row(loser, file_id(source_file, loser_hash), loser_hash, "superseded", run_id, now,
                                      reason_code="superseded", message=f"{source_file}: replaced by {winner.source_file}"))  # fmt: skip
    for m in misplaced:
        m_hash = sha256_bytes(m.path.read_bytes())
        registry.append({
            "file_id": file_id(m.source_file, m_hash), "file_hash": m_hash, "source_file": m.source_file,
            "district_code": district_code, "status": "rejected", "reason_code": m.reason_code, "message": m.message,
            "rows_read": 0, "rows_staged": 0, "rows_quarantined": 0, "rows_skipped": 0, "run_id": run_id,
            "ingest_version": stage.INGEST_VERSION, "ingested_at": now,
        })  # fmt: skip

    registry += _outcome_rows(batch.outcomes, staged, run_id, now)
    _write_district(con, district_code, keep_ids, staged, registry)
    return DistrictResult(
        district_code=district_code,
        files_seen=len(files) + len(misplaced),
        files_read=sum(1 for o in batch.outcomes if o.status == "ingested"),
        files_kept=len(keep_ids),
        files_rejected=sum(1 for r in registry if r["status"] == "rejected"),
        files_superseded=sum(1 for r in registry if r["status"] == "superseded"),
        rows_read=sum(int(r.get("rows_read") or 0) for r in registry),
        rows_staged=staged.records.height,
        rows_quarantined=staged.quarantine.height,
        rows_skipped=staged.skipped.height,
    )


def _count_rows(file: LandingFile, data: bytes) -> int:
    """Rows of a rejected file, for the accounting: parsed rows when it parses, else 0."""
    try:
        return len(parse_file(file, data).rows)
    except FileRejected:
        return 0


def _registry_row(file: LandingFile, fid: str, file_hash: str, status: str, run_id: str, now: dt.datetime,
                  **extra: object) -> dict[str, object]:  # fmt: skip
    return {
        "file_id": fid, "file_hash": file_hash, "source_file": file.source_file, "district_code": file.district_code,
        "form_code": file.form_code, "period": file.period, "committee_code": file.committee_code,
        "file_format": file.file_format, "size_bytes": file.size_bytes, "status": status,
        "rows_read": 0, "rows_staged": 0, "rows_quarantined": 0, "rows_skipped": 0,
        "run_id": run_id, "ingest_version": stage.INGEST_VERSION, "ingested_at": now, **extra,
    }  # fmt: skip


def _outcome_rows(outcomes: list[stage.FileOutcome], staged: stage.StagedBatch, run_id: str,
                  now: dt.datetime) -> list[dict[str, object]]:  # fmt: skip
    counts: dict[str, dict[str, int]] = {}
    for name, frame in (("staged", staged.records), ("quarantined", staged.quarantine), ("skipped", staged.skipped)):
        for fid, n in frame.group_by("file_id").len().iter_rows():
            counts.setdefault(fid, {})[name] = n
    rows = []
    for o in outcomes:
        c = counts.get(o.file_id, {})
        row = _registry_row(o.file, o.file_id, o.file_hash, o.status, run_id, now, reason_code=o.reason_code,
                            message=o.message, encoding=o.encoding, sheet=o.sheet, warnings=o.warnings)  # fmt: skip
        if o.status == "rejected":  # the whole file is quarantined, at file level
            row.update(rows_read=o.rows_read, rows_quarantined=o.rows_read)
        else:
            row.update(rows_read=o.rows_read, rows_staged=c.get("staged", 0), rows_quarantined=c.get("quarantined", 0),
                       rows_skipped=c.get("skipped", 0))  # fmt: skip
        rows.append(row)
    return rows


REGISTRY_SCHEMA = {
    "file_id": pl.String, "file_hash": pl.String, "source_file": pl.String, "district_code": pl.String,
    "form_code": pl.String, "period": pl.String, "committee_code": pl.String, "file_format": pl.String,
    "encoding": pl.String, "sheet": pl.String, "size_bytes": pl.Int64, "status": pl.String,
    "reason_code": pl.String, "message": pl.String, "warnings": pl.List(pl.String), "rows_read": pl.Int32,
    "rows_staged": pl.Int32, "rows_quarantined": pl.Int32, "rows_skipped": pl.Int32, "run_id": pl.String,
    "ingest_version": pl.String, "ingested_at": pl.Datetime("us"),
}  # fmt: skip


def _write_district(
    con: duckdb.DuckDBPyConnection,
    district_code: str,
    keep_ids: list[str],
    staged: stage.StagedBatch,
    registry: list[dict[str, object]],
) -> None:
    """Delete the district's rows of files not kept, insert this run's rows: one transaction."""
    keep = pl.DataFrame({"file_id": keep_ids}, schema={"file_id": pl.String}).to_arrow()
    registry_frame = pl.DataFrame(registry, schema=REGISTRY_SCHEMA).to_arrow()
    frames = {
        "staging.form_records": staged.records.to_arrow(),
        "staging.form_values": staged.values.to_arrow(),
        "quarantine.rows": staged.quarantine.to_arrow(),
        "raw.skipped_rows": staged.skipped.to_arrow(),
        "raw.landing_files": registry_frame,
    }
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("keep_files", keep)
        for table, frame in frames.items():
            con.execute(
                f"DELETE FROM {table} WHERE district_code = ? AND file_id NOT IN (SELECT file_id FROM keep_files)",
                [district_code],
            )
            con.register("incoming", frame)
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
            con.unregister("incoming")
        con.unregister("keep_files")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def file_accounting(con: duckdb.DuckDBPyConnection, district_code: str | None = None) -> pl.DataFrame:
    """Per file: rows read vs rows found in staged + quarantined + skipped tables (the invariant)."""
    where = "WHERE f.district_code = ?" if district_code else ""
    params = [district_code] if district_code else []
    return con.sql(
        f"""
        WITH s AS (SELECT file_id, count(*) n FROM staging.form_records GROUP BY ALL),
             q AS (SELECT file_id, count(*) n FROM quarantine.rows GROUP BY ALL),
             k AS (SELECT file_id, count(*) n FROM raw.skipped_rows GROUP BY ALL)
        SELECT f.source_file, f.district_code, f.status, f.rows_read,
               coalesce(s.n, 0) AS staged, 
               CASE WHEN f.status = 'rejected' THEN f.rows_read ELSE coalesce(q.n, 0) END AS quarantined,
               coalesce(k.n, 0) AS skipped
        FROM raw.landing_files f
        LEFT JOIN s USING (file_id) LEFT JOIN q USING (file_id) LEFT JOIN k USING (file_id)
        {where}
        ORDER BY f.source_file
        """,
        params=params or None,
    ).pl().with_columns(
        (pl.col("rows_read") - pl.col("staged") - pl.col("quarantined") - pl.col("skipped")).alias("unaccounted")
    )
