"""Append-only audit of publication: what went to whom, under which policy, with which checksum.

Two copies:
- the warehouse tables `audit.publication_manifest` (one row per product table, each column with its
  treatment), `audit.publication_runs` (one row per run), `audit.query_log` (synced from the JSONL), and
  `publish.denials` (what the last run did not publish, and why: replaced each run);
- JSONL files under `<published>/_audit/`: `publication_manifest.jsonl` and `query_log.jsonl`, written
  under an exclusive lock and hash-chained (each line carries the sha256 of the previous line's entry),
  so that the query CLI never needs the warehouse write lock and a removed or edited line is detectable.
Only INSERTs are issued against the audit tables; nothing here updates or deletes them.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

if TYPE_CHECKING:
    from assets.publish.products import PublishResult

MANIFEST_TABLE = "audit.publication_manifest"
RUNS_TABLE = "audit.publication_runs"
QUERY_LOG_TABLE = "audit.query_log"
DENIALS_TABLE = "publish.denials"
AUDIT_DIR = "_audit"
MANIFEST_JSONL = "publication_manifest.jsonl"
QUERY_LOG_JSONL = "query_log.jsonl"
GENESIS = "0" * 64

_DDL = {
    MANIFEST_TABLE: """(
        run_id VARCHAR, published_at TIMESTAMPTZ, policy_version VARCHAR, mask_key_fingerprint VARCHAR,
        principal VARCHAR, tier VARCHAR, jurisdiction VARCHAR, jurisdiction_name VARCHAR,
        department VARCHAR, purpose VARCHAR, product_path VARCHAR, product_sha256 VARCHAR,
        product_bytes BIGINT, encrypted BOOLEAN, table_name VARCHAR, dataset VARCHAR, table_kind VARCHAR,
        row_count BIGINT, suppressed_cells BIGINT,
        columns STRUCT(name VARCHAR, treatment VARCHAR, classification VARCHAR, reason VARCHAR)[])""",
    RUNS_TABLE: """(
        run_id VARCHAR, published_at TIMESTAMPTZ, policy_version VARCHAR, mask_key_fingerprint VARCHAR,
        mask_key_source VARCHAR, swapped BOOLEAN, products BIGINT, products_by_tier VARCHAR,
        datasets_bound VARCHAR[], denials BIGINT, retired VARCHAR[], leak_scan_passed BOOLEAN,
        leak_scan_findings BIGINT, leak_scan_summary VARCHAR, seconds DOUBLE, build_seconds DOUBLE,
        scan_seconds DOUBLE)""",
    QUERY_LOG_TABLE: """(
        query_id VARCHAR, queried_at TIMESTAMPTZ, os_user VARCHAR, principal VARCHAR, product VARCHAR,
        product_run_id VARCHAR, sql VARCHAR, status VARCHAR, row_count BIGINT, seconds DOUBLE,
        message VARCHAR)""",
}


# ------------------------------------------------------------------------------------------- JSONL


def audit_dir(published_dir: str | Path) -> Path:
    return Path(published_dir) / AUDIT_DIR


def _entry_hash(record: Mapping[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "entry_sha256"}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _last_hash(fh: Any) -> str:
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    if size == 0:
        return GENESIS
    fh.seek(max(0, size - 65536))
    tail = fh.read().splitlines()
    for line in reversed(tail):
        line = line.strip()
        if line:
            try:
                return str(json.loads(line)["entry_sha256"])
            except (ValueError, KeyError):
                return GENESIS
    return GENESIS


def append_jsonl(path: str | Path, records: Iterable[Mapping[str, Any]]) -> int:
    """Append records under an exclusive lock, hash-chained, fsync'ed. Returns the number written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(path, "a+", encoding="utf-8") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            prev = _last_hash(fh)
            fh.seek(0, os.SEEK_END)
            for rec in records:
                entry = {**rec, "prev_sha256": prev}
                entry["entry_sha256"] = _entry_hash(entry)
                fh.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
                prev = entry["entry_sha256"]
                n += 1
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return n


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def verify_chain(path: str | Path) -> list[str]:
    """Problems with the hash chain of a JSONL audit file (empty list: intact)."""
    problems = []
    prev = GENESIS
    for i, rec in enumerate(read_jsonl(path), start=1):
        if rec.get("prev_sha256") != prev:
            problems.append(f"line {i}: previous-entry hash does not match (a line was removed or reordered)")
        if _entry_hash(rec) != rec.get("entry_sha256"):
            problems.append(f"line {i}: entry hash does not match its content (the line was edited)")
        prev = str(rec.get("entry_sha256"))
    return problems


# ------------------------------------------------------------------------------------------ records


def product_entries(result: PublishResult) -> list[dict[str, Any]]:
    """One JSON-able manifest entry per published product."""
    out = []
    for p in result.products:
        out.append(
            {
                "type": "product",
                "run_id": result.run_id,
                "published_at": result.published_at.isoformat(),
                "policy_version": result.policy_version,
                "mask_key_fingerprint": result.mask_key_fingerprint,
                "principal": p.principal.ref,
                "tier": p.principal.tier.value,
                "jurisdiction": p.principal.jurisdiction,
                "jurisdiction_name": p.jurisdiction_name,
                "department": p.principal.department,
                "purpose": p.principal.purpose,
                "product_path": p.relpath,
                "product_sha256": p.sha256,
                "product_bytes": p.bytes,
                "encrypted": p.encrypted,
                "tables": [
                    {
                        "table": t.table,
                        "dataset": t.dataset,
                        "kind": t.kind,
                        "rows": t.rows,
                        "suppressed_cells": t.suppressed_cells,
                        "columns": [
                            {
                                "name": c.name,
                                "treatment": c.treatment,
                                "classification": c.classification,
                                "reason": c.reason,
                            }
                            for c in t.columns
                        ],
                    }
                    for t in p.tables
                ],
            }
        )
    return out


def run_entry(result: PublishResult) -> dict[str, Any]:
    return {
        "type": "run",
        "run_id": result.run_id,
        "published_at": result.published_at.isoformat(),
        "policy_version": result.policy_version,
        "mask_key_fingerprint": result.mask_key_fingerprint,
        "mask_key_source": result.mask_key_source,
        "swapped": result.swapped,
        "products": result.product_count if result.swapped else 0,
        "products_by_tier": result.counts_by_tier() if result.swapped else {},
        "datasets_bound": result.bound,
        "denials": len(result.denials),
        "retired": result.retired,
        "leak_scan_passed": result.scan.passed,
        "leak_scan_findings": len(result.scan.findings),
        "leak_scan_summary": result.scan.summary(),
        "seconds": round(result.seconds, 3),
        "build_seconds": round(result.build_seconds, 3),
        "scan_seconds": round(result.scan_seconds, 3),
    }


def write_jsonl_manifest(published_dir: str | Path, result: PublishResult) -> Path:
    """Append this run's product entries (if swapped in) and its run entry to the JSONL manifest."""
    path = audit_dir(published_dir) / MANIFEST_JSONL
    entries = product_entries(result) if result.swapped else []
    append_jsonl(path, [*entries, run_entry(result)])
    return path


def denials_frame(result: PublishResult) -> pl.DataFrame:
    schema = {
        "run_id": pl.String,
        "scope": pl.String,
        "dataset": pl.String,
        "column_name": pl.String,
        "element_code": pl.String,
        "tier": pl.String,
        "department": pl.String,
        "purpose": pl.String,
        "reason_code": pl.String,
        "reason": pl.String,
        "rows_affected": pl.Int64,
        "principals": pl.Int64,
    }
    rows = [
        (
            result.run_id,
            d.scope,
            d.dataset,
            d.column,
            d.element,
            d.tier,
            d.department,
            d.purpose,
            d.reason_code,
            d.reason,
            d.rows_affected,
            d.principals,
        )
        for d in result.denials
    ]
    return pl.DataFrame(rows, schema=schema, orient="row")


def products_frame(result: PublishResult) -> pl.DataFrame:
    """One row per product (for metadata and the CLI)."""
    schema = {
        "principal": pl.String,
        "name": pl.String,
        "product": pl.String,
        "tables": pl.Int64,
        "rows": pl.Int64,
        "bytes": pl.Int64,
        "sha256": pl.String,
    }
    rows = [
        (
            p.principal.ref,
            p.jurisdiction_name,
            p.relpath,
            len(p.tables),
            sum(t.rows for t in p.tables),
            p.bytes,
            p.sha256[:16],
        )
        for p in result.products
    ]
    return pl.DataFrame(rows, schema=schema, orient="row")


def _ensure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS audit")
    con.execute("CREATE SCHEMA IF NOT EXISTS publish")
    for table, ddl in _DDL.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} {ddl}")


def record_publication(con: duckdb.DuckDBPyConnection, result: PublishResult) -> None:
    """Append the run (and, if swapped in, its products) to the warehouse audit; replace publish.denials."""
    _ensure(con)
    run = run_entry(result)
    con.execute(
        f"INSERT INTO {RUNS_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run["run_id"],
            result.published_at,
            run["policy_version"],
            run["mask_key_fingerprint"],
            run["mask_key_source"],
            run["swapped"],
            run["products"],
            json.dumps(run["products_by_tier"], ensure_ascii=False),
            run["datasets_bound"],
            run["denials"],
            run["retired"],
            run["leak_scan_passed"],
            run["leak_scan_findings"],
            run["leak_scan_summary"],
            run["seconds"],
            run["build_seconds"],
            run["scan_seconds"],
        ],
    )
    if result.swapped:
        rows = []
        for e in product_entries(result):
            for t in e["tables"]:
                rows.append(
                    {
                        **{k: e[k] for k in e if k not in ("type", "tables", "published_at")},
                        "published_at": result.published_at,
                        "table_name": t["table"],
                        "dataset": t["dataset"],
                        "table_kind": t["kind"],
                        "row_count": t["rows"],
                        "suppressed_cells": t["suppressed_cells"],
                        "columns": t["columns"],
                    }
                )
        if rows:
            frame = pl.DataFrame(rows, infer_schema_length=None)
            arrow = frame.to_arrow()  # noqa: F841 (referenced by name in SQL)
            con.execute(f"INSERT INTO {MANIFEST_TABLE} BY NAME SELECT * FROM arrow")
    if result.swapped:  # the denials describe the products in place: replace them only with the products
        denials = denials_frame(result)  # noqa: F841
        con.execute(f"CREATE OR REPLACE TABLE {DENIALS_TABLE} AS SELECT * FROM denials")


def query_log_path(published_dir: str | Path) -> Path:
    return audit_dir(published_dir) / QUERY_LOG_JSONL


def log_query(published_dir: str | Path, entry: Mapping[str, Any]) -> None:
    append_jsonl(query_log_path(published_dir), [entry])


def sync_query_log(con: duckdb.DuckDBPyConnection, published_dir: str | Path) -> int:
    """Copy query-log lines not yet in audit.query_log into it (by query_id); returns rows added."""
    _ensure(con)
    entries = read_jsonl(query_log_path(published_dir))
    if not entries:
        return 0
    known = {r[0] for r in con.execute(f"SELECT query_id FROM {QUERY_LOG_TABLE}").fetchall()}
    new = [e for e in entries if e.get("query_id") not in known]
    if not new:
        return 0
    cols = [
        "query_id",
        "queried_at",
        "os_user",
        "principal",
        "product",
        "product_run_id",
        "sql",
        "status",
        "row_count",
        "seconds",
        "message",
    ]
    con.executemany(
        f"INSERT INTO {QUERY_LOG_TABLE} VALUES ({', '.join('?' for _ in cols)})",
        [[_coerce_time(e.get(c)) if c == "queried_at" else e.get(c) for c in cols] for e in new],
    )
    return len(new)


def _coerce_time(value: Any) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value
