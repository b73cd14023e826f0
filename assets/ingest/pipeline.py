"""Ingesting one district's landing folder into the warehouse, incrementally and idempotently.

A district's tables mirror its landing folder: files whose content (hash) and parser version are
unchanged keep their rows untouched; new and changed files are read; rows of files that were
replaced, superseded by a correction or removed are deleted. All of it in one transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from assets.ingest import stage
from assets.ingest.catalog import Catalog
from assets.ingest.reader import (
    FileRejected,
    LandingFile,
    current_deliveries,
    discover,
    parse_file,
    sha256_bytes,
    validate_location,
)

DDL = """
CREATE TABLE IF NOT EXISTS raw.landing_files (
    file_hash VARCHAR, source_file VARCHAR, district_code VARCHAR, form_code VARCHAR, period VARCHAR,
    committee_code VARCHAR, file_format VARCHAR, encoding VARCHAR, sheet VARCHAR, size_bytes BIGINT,
    status VARCHAR, reason_code VARCHAR, message VARCHAR, warnings VARCHAR[],
    rows_read INTEGER, rows_staged INTEGER, rows_quarantined INTEGER, rows_skipped INTEGER,
    run_id VARCHAR, ingest_version VARCHAR, ingested_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS staging.form_records (
    record_id VARCHAR, file_hash VARCHAR, source_file VARCHAR, sheet VARCHAR, row_number INTEGER,
    run_id VARCHAR, district_code VARCHAR, township_code VARCHAR, committee_code VARCHAR, form_code VARCHAR,
    period VARCHAR, person_name VARCHAR, id_number VARCHAR, id_number_raw VARCHAR, id_status VARCHAR,
    id_birth_date DATE, id_sex VARCHAR, flags VARCHAR[]
);
CREATE TABLE IF NOT EXISTS staging.form_values (
    record_id VARCHAR, file_hash VARCHAR, district_code VARCHAR, form_code VARCHAR, field_order INTEGER,
    field_label VARCHAR, header_label VARCHAR, field_type VARCHAR, element_code VARCHAR,
    value_raw VARCHAR, value VARCHAR, value_flag VARCHAR
);
CREATE TABLE IF NOT EXISTS quarantine.rows (
    record_id VARCHAR, file_hash VARCHAR, source_file VARCHAR, sheet VARCHAR, row_number INTEGER,
    run_id VARCHAR, district_code VARCHAR, form_code VARCHAR, period VARCHAR, committee_code VARCHAR,
    reason_code VARCHAR, field VARCHAR, message VARCHAR, raw_row VARCHAR
);
CREATE TABLE IF NOT EXISTS raw.skipped_rows (
    file_hash VARCHAR, source_file VARCHAR, sheet VARCHAR, row_number INTEGER, district_code VARCHAR,
    reason VARCHAR, raw_text VARCHAR
);
CREATE OR REPLACE VIEW quarantine.rejected_files AS
    SELECT file_hash, source_file, district_code, form_code, period, reason_code, message, rows_read, run_id
    FROM raw.landing_files WHERE status = 'rejected';
"""
ROW_TABLES = ("staging.form_records", "staging.form_values", "quarantine.rows", "raw.skipped_rows")


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)


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
    catalog: Catalog,
    divisions: stage.Divisions,
    synonyms: dict[str, str],
    run_id: str,
    full_refresh: bool = False,
) -> DistrictResult:
    """Bring the district's tables in line with its landing folder; returns what this run did."""
    ensure_tables(con)
    files, misplaced = discover(Path(landing_root), district_code) if (Path(landing_root) / district_code).is_dir() else ([], [])
    current, superseded = current_deliveries(files)
    known = {
        (r[0], r[1]): r[2]
        for r in con.execute(
            "SELECT source_file, file_hash, ingest_version FROM raw.landing_files WHERE district_code = ? "
            "AND status IN ('ingested', 'rejected')",
            [district_code],
        ).fetchall()
    }
    fields_by_form = catalog.fields_by_form()
    frequency = catalog.frequency_by_form()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)

    batch = stage.Batch()
    registry: list[dict[str, object]] = []
    keep_hashes: list[str] = []
    seen_hashes: dict[str, str] = {}
    for file in current:
        data = file.path.read_bytes()
        file_hash = sha256_bytes(data)
        if file_hash in seen_hashes:
            registry.append(_registry_row(file, file_hash, "duplicate", run_id, now, reason_code="duplicate_content",
                                          message=f"{file.source_file}: same content as {seen_hashes[file_hash]}"))  # fmt: skip
            continue
        seen_hashes[file_hash] = file.source_file
        if not full_refresh and known.get((file.source_file, file_hash)) == stage.INGEST_VERSION:
            keep_hashes.append(file_hash)
            continue
        try:
            validate_location(file, frequency, divisions.committees)
            parsed = parse_file(file, data)
            stage.add_file(batch, file, file_hash, parsed, fields_by_form[file.form_code], synonyms, divisions)
        except FileRejected as exc:
            batch.outcomes.append(
                stage.FileOutcome(file, file_hash, "rejected", exc.reason_code, exc.message,
                                  rows_read=_count_rows(file, data))  # fmt: skip
            )
    for source_file, winner in superseded.items():
        loser = next(f for f in files if f.source_file == source_file)
        registry.append(_registry_row(loser, sha256_bytes(loser.path.read_bytes()), "superseded", run_id, now,
                                      reason_code="superseded", message=f"{source_file}: replaced by {winner.source_file}"))  # fmt: skip
    for m in misplaced:
        registry.append({
            "file_hash": sha256_bytes(m.path.read_bytes()), "source_file": m.source_file, "district_code": district_code,
            "status": "rejected", "reason_code": m.reason_code, "message": m.message, "rows_read": 0,
            "rows_staged": 0, "rows_quarantined": 0, "rows_skipped": 0, "run_id": run_id,
            "ingest_version": stage.INGEST_VERSION, "ingested_at": now,
        })  # fmt: skip

    staged = stage.finish(batch, run_id)
    registry += _outcome_rows(batch.outcomes, staged, run_id, now)
    _write_district(con, district_code, keep_hashes, staged, registry)
    return DistrictResult(
        district_code=district_code,
        files_seen=len(files) + len(misplaced),
        files_read=sum(1 for o in batch.outcomes if o.status == "ingested"),
        files_kept=len(keep_hashes),
        files_rejected=sum(1 for r in registry if r["status"] == "rejected"),
        files_superseded=sum(1 for r in registry if r["status"] in ("superseded", "duplicate")),
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


def _registry_row(file: LandingFile, file_hash: str, status: str, run_id: str, now: dt.datetime,
                  **extra: object) -> dict[str, object]:  # fmt: skip
    return {
        "file_hash": file_hash, "source_file": file.source_file, "district_code": file.district_code,
        "form_code": file.form_code, "period": file.period, "committee_code": file.committee_code,
        "file_format": file.file_format, "size_bytes": file.size_bytes, "status": status,
        "rows_read": 0, "rows_staged": 0, "rows_quarantined": 0, "rows_skipped": 0,
        "run_id": run_id, "ingest_version": stage.INGEST_VERSION, "ingested_at": now, **extra,
    }  # fmt: skip


def _outcome_rows(outcomes: list[stage.FileOutcome], staged: stage.StagedBatch, run_id: str,
                  now: dt.datetime) -> list[dict[str, object]]:  # fmt: skip
    counts: dict[str, dict[str, int]] = {}
    for name, frame in (("staged", staged.records), ("quarantined", staged.quarantine), ("skipped", staged.skipped)):
        for file_hash, n in frame.group_by("file_hash").len().iter_rows():
            counts.setdefault(file_hash, {})[name] = n
    rows = []
    for o in outcomes:
        c = counts.get(o.file_hash, {})
        row = _registry_row(o.file, o.file_hash, o.status, run_id, now, reason_code=o.reason_code, message=o.message,
                            encoding=o.encoding, sheet=o.sheet, warnings=o.warnings)  # fmt: skip
        row.update(rows_read=o.rows_read, rows_staged=c.get("staged", 0), rows_quarantined=c.get("quarantined", 0),
                   rows_skipped=c.get("skipped", 0))  # fmt: skip
        if o.status == "rejected":  # the whole file is quarantined, at file level
            row.update(rows_staged=0, rows_quarantined=o.rows_read, rows_skipped=0)
        rows.append(row)
    return rows


REGISTRY_SCHEMA = {
    "file_hash": pl.String, "source_file": pl.String, "district_code": pl.String, "form_code": pl.String,
    "period": pl.String, "committee_code": pl.String, "file_format": pl.String, "encoding": pl.String,
    "sheet": pl.String, "size_bytes": pl.Int64, "status": pl.String, "reason_code": pl.String,
    "message": pl.String, "warnings": pl.List(pl.String), "rows_read": pl.Int32, "rows_staged": pl.Int32,
    "rows_quarantined": pl.Int32, "rows_skipped": pl.Int32, "run_id": pl.String, "ingest_version": pl.String,
    "ingested_at": pl.Datetime("us"),
}  # fmt: skip


def _write_district(
    con: duckdb.DuckDBPyConnection,
    district_code: str,
    keep_hashes: list[str],
    staged: stage.StagedBatch,
    registry: list[dict[str, object]],
) -> None:
    """Delete the district's rows of files not kept, insert this run's rows: one transaction."""
    keep = pl.DataFrame({"file_hash": keep_hashes}, schema={"file_hash": pl.String}).to_arrow()  # noqa: F841
    registry_frame = pl.DataFrame(registry, schema=REGISTRY_SCHEMA).to_arrow()  # noqa: F841
    frames = {
        "staging.form_records": staged.records.to_arrow(),
        "staging.form_values": staged.values.to_arrow(),
        "quarantine.rows": staged.quarantine.to_arrow(),
        "raw.skipped_rows": staged.skipped.to_arrow(),
    }
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("keep_files", keep)
        for table in ROW_TABLES:
            con.execute(
                f"DELETE FROM {table} WHERE district_code = ? AND file_hash NOT IN (SELECT file_hash FROM keep_files)",
                [district_code],
            )
            con.register("incoming", frames[table])
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
            con.unregister("incoming")
        con.execute(
            "DELETE FROM raw.landing_files WHERE district_code = ? AND file_hash NOT IN (SELECT file_hash FROM keep_files)",
            [district_code],
        )
        con.execute("INSERT INTO raw.landing_files BY NAME SELECT * FROM registry_frame")
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
        WITH s AS (SELECT file_hash, count(*) n FROM staging.form_records GROUP BY ALL),
             q AS (SELECT file_hash, count(*) n FROM quarantine.rows GROUP BY ALL),
             k AS (SELECT file_hash, count(*) n FROM raw.skipped_rows GROUP BY ALL)
        SELECT f.source_file, f.district_code, f.status, f.rows_read,
               coalesce(s.n, 0) AS staged, 
               CASE WHEN f.status = 'rejected' THEN f.rows_read ELSE coalesce(q.n, 0) END AS quarantined,
               coalesce(k.n, 0) AS skipped
        FROM raw.landing_files f
        LEFT JOIN s USING (file_hash) LEFT JOIN q USING (file_hash) LEFT JOIN k USING (file_hash)
        {where}
        ORDER BY f.source_file
        """,
        params=params or None,
    ).pl().with_columns(
        (pl.col("rows_read") - pl.col("staged") - pl.col("quarantined") - pl.col("skipped")).alias("unaccounted")
    )
