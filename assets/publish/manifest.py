"""The publication audit: what went to whom, under which policy, with which checksum — in two copies that are
checked against each other.

- JSONL chains under `<published>/_audit/` (`publication_manifest.jsonl`, `query_log.jsonl`): keyed-hash chained
  (`audit.py`), with signed heads (count, last mac) in `_audit/heads/` (or a folder given with --heads);
- warehouse tables `audit.publication_runs`, `audit.publication_manifest`, `audit.query_log` (each row carries
  the `entry_mac` of its chain entry) and `audit.chain_heads` (how far each sync copied, signed). This module
  is the only writer of these tables and only INSERTs; `verify_all` compares them with the chains, so a
  DELETE or UPDATE in the warehouse shows up. `publish.denials` (what the products in place do not contain)
  is replaced with the products.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from assets.publish import audit

if TYPE_CHECKING:
    import polars as pl

    from assets.publish.products import PublishResult

MANIFEST_TABLE = "audit.publication_manifest"
RUNS_TABLE = "audit.publication_runs"
QUERY_LOG_TABLE = "audit.query_log"
HEADS_TABLE = "audit.chain_heads"
DENIALS_TABLE = "publish.denials"
AUDIT_DIR = "_audit"
HEADS_DIR = "heads"
MANIFEST_JSONL = "publication_manifest.jsonl"
QUERY_LOG_JSONL = "query_log.jsonl"

_DDL = {
    MANIFEST_TABLE: """(
        run_id VARCHAR, published_at TIMESTAMPTZ, policy_version VARCHAR, mask_key_fingerprint VARCHAR,
        principal VARCHAR, tier VARCHAR, jurisdiction VARCHAR, jurisdiction_name VARCHAR,
        department VARCHAR, purpose VARCHAR, product_path VARCHAR, product_sha256 VARCHAR,
        product_bytes BIGINT, encrypted BOOLEAN, table_name VARCHAR, dataset VARCHAR, table_kind VARCHAR,
        row_count BIGINT, suppressed_cells BIGINT,
        columns STRUCT(name VARCHAR, treatment VARCHAR, classification VARCHAR, reason VARCHAR)[],
        generation VARCHAR, carried BOOLEAN, fingerprint VARCHAR, entry_mac VARCHAR)""",
    RUNS_TABLE: """(
        run_id VARCHAR, published_at TIMESTAMPTZ, policy_version VARCHAR, mask_key_fingerprint VARCHAR,
        mask_key_source VARCHAR, swapped BOOLEAN, products BIGINT, products_by_tier VARCHAR,
        datasets_bound VARCHAR[], denials BIGINT, retired VARCHAR[], leak_scan_passed BOOLEAN,
        leak_scan_findings BIGINT, leak_scan_summary VARCHAR, seconds DOUBLE, build_seconds DOUBLE,
        scan_seconds DOUBLE, generation VARCHAR, carried BIGINT, entry_mac VARCHAR)""",
    QUERY_LOG_TABLE: """(
        query_id VARCHAR, queried_at TIMESTAMPTZ, os_user VARCHAR, principal VARCHAR, product VARCHAR,
        product_run_id VARCHAR, sql VARCHAR, status VARCHAR, row_count BIGINT, seconds DOUBLE,
        message VARCHAR, entry_mac VARCHAR)""",
    HEADS_TABLE: """(chain VARCHAR, count BIGINT, last_mac VARCHAR, recorded_at TIMESTAMPTZ, mac VARCHAR)""",
}
_ADDED = {
    MANIFEST_TABLE: (("generation", "VARCHAR"), ("carried", "BOOLEAN"), ("fingerprint", "VARCHAR"),
                     ("entry_mac", "VARCHAR")),
    RUNS_TABLE: (("generation", "VARCHAR"), ("carried", "BIGINT"), ("entry_mac", "VARCHAR")),
    QUERY_LOG_TABLE: (("entry_mac", "VARCHAR"),),
}  # fmt: skip
_QUERY_COLUMNS = ("query_id", "queried_at", "os_user", "principal", "product", "product_run_id", "sql", "status",
                  "row_count", "seconds", "message")  # fmt: skip


@dataclass(frozen=True)
class AuditSettings:
    """Where the chains and their heads live, and the key (JIANFU_AUDIT_KEY) that signs them."""

    published_dir: Path
    key: bytes
    heads_dir: Path

    @property
    def manifest_path(self) -> Path:
        return self.published_dir / AUDIT_DIR / MANIFEST_JSONL

    @property
    def query_log_path(self) -> Path:
        return self.published_dir / AUDIT_DIR / QUERY_LOG_JSONL

    def chains(self) -> list[Path]:
        return [self.manifest_path, self.query_log_path]


def audit_settings(
    published_dir: str | Path, key: bytes, heads_dir: str | Path | None = None
) -> AuditSettings:
    published = Path(published_dir)
    heads = Path(heads_dir) if heads_dir else published / AUDIT_DIR / HEADS_DIR
    return AuditSettings(published, key, heads)


def audit_dir(published_dir: str | Path) -> Path:
    return Path(published_dir) / AUDIT_DIR


# ------------------------------------------------------------------------------------------ records


def product_entries(result: PublishResult) -> list[dict[str, Any]]:
    """One JSON-able manifest entry per product of the generation (written or carried over)."""
    return [
        {
            "type": "product", "run_id": result.run_id, "generation": result.generation,
            "published_at": result.published_at.isoformat(), "policy_version": result.policy_version,
            "mask_key_fingerprint": result.mask_key_fingerprint, "principal": p.principal.ref,
            "tier": p.principal.tier.value, "jurisdiction": p.principal.jurisdiction,
            "jurisdiction_name": p.jurisdiction_name, "department": p.principal.department,
            "purpose": p.principal.purpose, "product_path": p.relpath, "product_sha256": p.sha256,
            "product_bytes": p.bytes, "encrypted": p.encrypted, "carried": p.carried, "fingerprint": p.fingerprint,
            "tables": [
                {"table": t.table, "dataset": t.dataset, "kind": t.kind, "rows": t.rows,
                 "suppressed_cells": t.suppressed_cells, "columns": [c.__dict__ for c in t.columns]}
                for t in p.tables
            ],
        }
        for p in result.products
    ]  # fmt: skip


def run_entry(result: PublishResult) -> dict[str, Any]:
    return {
        "type": "run", "run_id": result.run_id, "generation": result.generation,
        "published_at": result.published_at.isoformat(), "policy_version": result.policy_version,
        "mask_key_fingerprint": result.mask_key_fingerprint, "mask_key_source": result.mask_key_source,
        "swapped": result.swapped, "products": result.product_count if result.swapped else 0,
        "products_by_tier": result.counts_by_tier() if result.swapped else {}, "carried": result.carried,
        "datasets_bound": result.bound, "denials": len(result.denials), "retired": result.retired,
        "leak_scan_passed": result.scan.passed, "leak_scan_findings": len(result.scan.findings),
        "leak_scan_summary": result.scan.summary(), "seconds": round(result.seconds, 3),
        "build_seconds": round(result.build_seconds, 3), "scan_seconds": round(result.scan_seconds, 3),
    }  # fmt: skip


def write_jsonl_manifest(settings: AuditSettings, result: PublishResult) -> dict[str, str]:
    """Append the generation's product entries (if it was sealed) and the run entry, before the switch.
    Returns the entry mac per product path, and per run under the key 'run'."""
    entries = product_entries(result) if result.swapped else []
    macs = audit.append(
        settings.manifest_path, settings.heads_dir, settings.key, [*entries, run_entry(result)]
    )
    out = {e["product_path"]: m for e, m in zip(entries, macs, strict=False)}
    out["run"] = macs[-1]
    return out


def denials_frame(result: PublishResult) -> pl.DataFrame:
    import polars as pl

    schema = {"run_id": pl.String, "scope": pl.String, "dataset": pl.String, "column_name": pl.String,
              "element_code": pl.String, "tier": pl.String, "department": pl.String, "purpose": pl.String,
              "reason_code": pl.String, "reason": pl.String, "rows_affected": pl.Int64, "principals": pl.Int64}  # fmt: skip
    rows = [(result.run_id, d.scope, d.dataset, d.column, d.element, d.tier, d.department, d.purpose,
             d.reason_code, d.reason, d.rows_affected, d.principals) for d in result.denials]  # fmt: skip
    return pl.DataFrame(rows, schema=schema, orient="row")


def products_frame(result: PublishResult) -> pl.DataFrame:
    """One row per product (for metadata and the CLI)."""
    import polars as pl

    schema = {"principal": pl.String, "name": pl.String, "product": pl.String, "tables": pl.Int64,
              "rows": pl.Int64, "bytes": pl.Int64, "sha256": pl.String, "carried": pl.Boolean}  # fmt: skip
    rows = [(p.principal.ref, p.jurisdiction_name, p.relpath, len(p.tables), sum(t.rows for t in p.tables),
             p.bytes, p.sha256[:16], p.carried) for p in result.products]  # fmt: skip
    return pl.DataFrame(rows, schema=schema, orient="row")


# ------------------------------------------------------------------------------- warehouse copy


def _ensure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS audit")
    con.execute("CREATE SCHEMA IF NOT EXISTS publish")
    for table, ddl in _DDL.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} {ddl}")
        have = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
        for col, ctype in _ADDED.get(table, ()):  # warehouses written before the keyed chain
            if col not in have:
                con.execute(f"ALTER TABLE {table} ADD COLUMN {col} {ctype}")


def _legacy_digest(con: duckdb.DuckDBPyConnection, table: str) -> tuple[int, str]:
    """(rows, sha256) of the rows an older version copied without a chain entry (entry_mac NULL)."""
    got = con.execute(
        f"SELECT * EXCLUDE (entry_mac) FROM {table} WHERE entry_mac IS NULL ORDER BY ALL"
    ).fetchall()
    return len(got), hashlib.sha256(repr(got).encode("utf-8")).hexdigest()


def _seal_legacy(con: duckdb.DuckDBPyConnection, settings: AuditSettings) -> None:
    """Once: sign the rows copied before the keyed chain existed, so an edit of them shows too."""
    for table in (RUNS_TABLE, MANIFEST_TABLE, QUERY_LOG_TABLE):
        name = f"legacy:{table}"
        if con.execute(f"SELECT count(*) FROM {HEADS_TABLE} WHERE chain = ?", [name]).fetchall()[0][0]:
            continue
        n, digest = _legacy_digest(con, table)
        body = {"chain": name, "count": n, "last_mac": digest}
        con.execute(f"INSERT INTO {HEADS_TABLE} VALUES (?, ?, ?, ?, ?)",
                    [name, n, digest, dt.datetime.now(dt.UTC), audit.mac_of(settings.key, body)])  # fmt: skip


def _heads_digest(con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
    got = con.execute(f"SELECT chain, count, last_mac, mac FROM {HEADS_TABLE} ORDER BY ALL").fetchall()
    return len(got), hashlib.sha256(repr(got).encode("utf-8")).hexdigest()


def _anchor_heads(con: duckdb.DuckDBPyConnection, settings: AuditSettings) -> None:
    """Anchor audit.chain_heads in the manifest chain (rows and digest): a row of it deleted, changed or added
    in the warehouse no longer matches the chain's last `heads` entry."""
    n, digest = _heads_digest(con)
    audit.append(settings.manifest_path, settings.heads_dir, settings.key,
                 [{"type": "heads", "rows": n, "digest": digest}])  # fmt: skip


def _record_head(con: duckdb.DuckDBPyConnection, settings: AuditSettings, chain: Path) -> None:
    head, _ = audit.read_head(audit.head_path(settings.heads_dir, chain), settings.key)
    if head is None:
        return
    body = {"chain": chain.name, "count": head.count, "last_mac": head.last_mac}
    con.execute(f"INSERT INTO {HEADS_TABLE} VALUES (?, ?, ?, ?, ?)",
                [chain.name, head.count, head.last_mac, dt.datetime.now(dt.UTC), audit.mac_of(settings.key, body)])  # fmt: skip


def record_publication(
    con: duckdb.DuckDBPyConnection, result: PublishResult, settings: AuditSettings, macs: dict[str, str]
) -> None:
    """Append the run (and its generation's products) to the warehouse audit; replace publish.denials."""
    import polars as pl

    _ensure(con)
    _seal_legacy(con, settings)
    run = run_entry(result)
    con.execute(
        f"INSERT INTO {RUNS_TABLE} BY NAME SELECT ? AS run_id, ? AS published_at, ? AS policy_version, "
        "? AS mask_key_fingerprint, ? AS mask_key_source, ? AS swapped, ? AS products, ? AS products_by_tier, "
        "? AS datasets_bound, ? AS denials, ? AS retired, ? AS leak_scan_passed, ? AS leak_scan_findings, "
        "? AS leak_scan_summary, ? AS seconds, ? AS build_seconds, ? AS scan_seconds, ? AS generation, "
        "? AS carried, ? AS entry_mac",
        [run["run_id"], result.published_at, run["policy_version"], run["mask_key_fingerprint"],
         run["mask_key_source"], run["swapped"], run["products"], json.dumps(run["products_by_tier"]),
         run["datasets_bound"], run["denials"], run["retired"], run["leak_scan_passed"], run["leak_scan_findings"],
         run["leak_scan_summary"], run["seconds"], run["build_seconds"], run["scan_seconds"], run["generation"],
         run["carried"], macs["run"]],
    )  # fmt: skip
    if result.swapped:
        rows = [
            {**{k: e[k] for k in e if k not in ("type", "tables", "published_at")},
             "published_at": result.published_at, "table_name": t["table"], "dataset": t["dataset"],
             "table_kind": t["kind"], "row_count": t["rows"], "suppressed_cells": t["suppressed_cells"],
             "columns": t["columns"], "entry_mac": macs.get(e["product_path"])}
            for e in product_entries(result)
            for t in e["tables"]
        ]  # fmt: skip
        if rows:
            arrow = pl.DataFrame(rows, infer_schema_length=None).to_arrow()  # noqa: F841 (scanned by name)
            con.execute(f"INSERT INTO {MANIFEST_TABLE} BY NAME SELECT * FROM arrow")
        denials = denials_frame(result)  # noqa: F841 — the denials describe the products in place
        con.execute(f"CREATE OR REPLACE TABLE {DENIALS_TABLE} AS SELECT * FROM denials")
    _record_head(con, settings, settings.manifest_path)
    _anchor_heads(con, settings)


def log_query(settings: AuditSettings, entry: dict[str, Any]) -> str:
    return audit.append(settings.query_log_path, settings.heads_dir, settings.key, [entry])[0]


def sync_query_log(con: duckdb.DuckDBPyConnection, settings: AuditSettings) -> int:
    """Copy query-log entries not yet in audit.query_log into it (by entry mac); returns rows added."""
    _ensure(con)
    _seal_legacy(con, settings)
    entries = [e for e in audit.read(settings.query_log_path) if "mac" in e]
    known = {r[0] for r in con.execute(f"SELECT entry_mac FROM {QUERY_LOG_TABLE}").fetchall()}
    new = [e for e in entries if e["mac"] not in known]
    if new:
        rows = [[_coerce_time(e.get(c)) if c == "queried_at" else e.get(c) for c in _QUERY_COLUMNS] + [e["mac"]]
                for e in new]  # fmt: skip
        values = ", ".join("(" + ", ".join("?" for _ in range(len(_QUERY_COLUMNS) + 1)) + ")" for _ in rows)
        con.execute(f"INSERT INTO {QUERY_LOG_TABLE} ({', '.join(_QUERY_COLUMNS)}, entry_mac) VALUES {values}",
                    [v for r in rows for v in r])  # fmt: skip
    _record_head(con, settings, settings.query_log_path)
    _anchor_heads(con, settings)
    return len(new)


def _coerce_time(value: Any) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


# ----------------------------------------------------------------------------------------- verify

_COMPARE = {RUNS_TABLE: "run", MANIFEST_TABLE: "product", QUERY_LOG_TABLE: None}
_TABLE_FIELDS = {"table_name": "table", "dataset": "dataset", "table_kind": "kind", "row_count": "rows",
                 "suppressed_cells": "suppressed_cells"}  # fmt: skip


def _same(chain_value: Any, row_value: Any) -> bool:
    if isinstance(row_value, (dt.datetime, dt.date)):
        return chain_value is None or _coerce_time(str(chain_value)) == row_value
    if isinstance(chain_value, dict):
        try:
            return (
                json.loads(row_value) == chain_value
                if isinstance(row_value, str)
                else row_value == chain_value
            )
        except ValueError:
            return False
    if isinstance(chain_value, list) or isinstance(row_value, list):
        return audit.canonical(chain_value) == audit.canonical(row_value)
    if isinstance(chain_value, float) or isinstance(row_value, float):
        return (
            chain_value is not None
            and row_value is not None
            and abs(float(chain_value) - float(row_value)) < 1e-6
        )
    return (chain_value is None and row_value is None) or str(chain_value) == str(row_value)


def _row_problem(table: str, row: dict[str, Any], entry: dict[str, Any]) -> str | None:
    """The first column of a warehouse row that differs from its chain entry."""
    for col, value in row.items():
        if col in ("entry_mac", "columns"):
            continue
        if table == MANIFEST_TABLE and col in _TABLE_FIELDS:
            tables = [t for t in entry.get("tables", []) if t.get("table") == row.get("table_name")]
            if not tables or not _same(tables[0].get(_TABLE_FIELDS[col]), value):
                return col
            continue
        if col in entry and not _same(entry[col], value):
            return col
    return None


def verify_warehouse(con: duckdb.DuckDBPyConnection, settings: AuditSettings) -> list[str]:
    """The warehouse audit tables against the chains: no row missing, added or changed."""
    problems: list[str] = []
    try:
        n_heads, digest = _heads_digest(con)
    except duckdb.Error:
        return []  # nothing copied yet
    anchors = [e for e in audit.read(settings.manifest_path) if e.get("type") == "heads" and "mac" in e]
    if not settings.manifest_path.exists() and not (settings.published_dir / "current").exists():
        return []  # a products folder never published to: the warehouse copy belongs to another folder's chain
    if n_heads and (not anchors or (anchors[-1].get("rows"), anchors[-1].get("digest")) != (n_heads, digest)):
        problems.append(f"{HEADS_TABLE}: does not match its anchor in {settings.manifest_path.name} "
                        "(a row deleted, changed or added)")  # fmt: skip
    for table, chain in ((RUNS_TABLE, settings.manifest_path), (MANIFEST_TABLE, settings.manifest_path),
                         (QUERY_LOG_TABLE, settings.query_log_path)):  # fmt: skip
        kind = _COMPARE[table]
        entries = [e for e in audit.read(chain) if "mac" in e and (kind is None or e.get("type") == kind)]
        by_mac = {e["mac"]: e for e in entries}
        try:
            cur = con.execute(f"SELECT * FROM {table}")
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        except duckdb.Error as exc:
            problems.append(f"{table}: unreadable ({str(exc).splitlines()[0]})")
            continue
        seen = set()
        legacy = con.execute(f"SELECT count, last_mac, mac FROM {HEADS_TABLE} WHERE chain = ?",
                             [f"legacy:{table}"]).fetchall()  # fmt: skip
        n_old, digest = _legacy_digest(con, table)
        if legacy:
            count, last, sig = legacy[0]
            if (
                audit.mac_of(
                    settings.key, {"chain": f"legacy:{table}", "count": int(count), "last_mac": last}
                )
                != sig
            ):
                problems.append(
                    f"{HEADS_TABLE}: the seal of {table}'s rows from before the keyed chain does not verify"
                )
            elif (int(count), last) != (n_old, digest):
                problems.append(f"{table}: rows copied before the keyed chain were deleted or changed")
        elif n_old:
            problems.append(f"{table}: {n_old} rows without a chain entry (inserted)")
        for row in rows:
            mac = row.get("entry_mac")
            if mac is None:
                continue  # judged as a block above
            e = by_mac.get(mac)
            if e is None:
                problems.append(
                    f"{table}: a row (entry {str(mac)[:12]}) is not in {chain.name} (inserted or altered)"
                )
                continue
            seen.add(mac)
            bad = _row_problem(table, row, e)
            if bad:
                problems.append(
                    f"{table}: entry {str(mac)[:12]} column {bad} differs from {chain.name} (updated)"
                )
        heads = con.execute(f"SELECT count, last_mac, mac FROM {HEADS_TABLE} WHERE chain = ? "
                            "ORDER BY recorded_at DESC, count DESC LIMIT 1", [chain.name]).fetchall()  # fmt: skip
        if not heads:
            continue
        count, last_mac, sig = heads[0]
        body = {"chain": chain.name, "count": int(count), "last_mac": last_mac}
        if audit.mac_of(settings.key, body) != sig:
            problems.append(f"{HEADS_TABLE}: the recorded head of {chain.name} does not verify (edited)")
            continue
        all_entries = [e for e in audit.read(chain) if "mac" in e]
        if len(all_entries) < count or all_entries[int(count) - 1]["mac"] != last_mac:
            problems.append(f"{chain.name}: the warehouse copied {count} entries up to {str(last_mac)[:12]}, "
                            "the file no longer has them (truncated or rewritten)")  # fmt: skip
            continue
        synced = {e["mac"] for e in all_entries[: int(count)] if kind is None or e.get("type") == kind}
        missing = synced - seen
        if table == MANIFEST_TABLE:  # one row per product table: a deleted table row is a missing row too
            per_mac: dict[str, int] = {}
            for row in rows:
                per_mac[row["entry_mac"]] = per_mac.get(row["entry_mac"], 0) + 1
            missing |= {m for m in synced & seen if per_mac.get(m, 0) != len(by_mac[m].get("tables", []))}
        if missing:
            problems.append(f"{table}: {len(missing)} rows copied from {chain.name} are gone (deleted)")
    return problems


def verify_all(settings: AuditSettings, warehouse: str | Path | None = None) -> list[str]:
    """Every chain and, when the warehouse exists, its copy: the check run before each publication."""
    problems = [
        p for chain in settings.chains() for p in audit.verify(chain, settings.heads_dir, settings.key)
    ]
    if warehouse is not None and Path(warehouse).exists():
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            problems += verify_warehouse(con, settings)
        finally:
            con.close()
    return problems
