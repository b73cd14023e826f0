"""Write one principal's product: slice the profile's staged tables by the principal's prefix into a fresh
DuckDB file, with `_product` and `_columns` describing it (what it is made of is fingerprinted before it is
planned: `inputs.py`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

import duckdb
import polars as pl

from assets.publish.masking import quote_ident, quote_literal
from assets.publish.policy import Policy
from assets.publish.types import TIER_CODES, Principal, PublishError, TablePlan, TableRecord

PRODUCT_ALIAS = "product"
META_PRODUCT = "_product"
META_COLUMNS = "_columns"
_COLUMNS_SCHEMA = {"table_name": pl.String, "column_name": pl.String, "treatment": pl.String,
                   "classification": pl.String, "reason": pl.String, "row_count": pl.Int64}  # fmt: skip


def prefix_filter(column: str, prefix: str) -> str:
    """starts_with for correctness, plus a range on the sorted column so zone maps skip row groups."""
    q = quote_ident(column)
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return f"{q} >= {quote_literal(prefix)} AND {q} < {quote_literal(upper)} AND starts_with({q}, {quote_literal(prefix)})"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_product(
    con: duckdb.DuckDBPyConnection,
    principal: Principal,
    tables: list[TablePlan],
    tmp: Path,
    meta: Mapping[str, object],
    encryption_key: str | None = None,
) -> list[TableRecord]:
    """Write one product to `tmp` (a fresh file): sliced tables, `_product` and `_columns`; fsync'ed."""
    tmp.parent.mkdir(parents=True, exist_ok=True)
    for stale in (tmp, Path(str(tmp) + ".wal")):
        stale.unlink(missing_ok=True)
    opts = f" (ENCRYPTION_KEY {quote_literal(encryption_key)})" if encryption_key else ""
    con.execute(f"ATTACH {quote_literal(str(tmp))} AS {PRODUCT_ALIAS}{opts}")
    records: list[TableRecord] = []
    # one transaction per product: one commit (one WAL flush) instead of one per table
    con.execute("BEGIN TRANSACTION")
    committed = False
    try:
        prefix = principal.jurisdiction
        for plan in tables:
            where = f" WHERE {prefix_filter(plan.jurisdiction, prefix)}" if plan.jurisdiction else ""
            target = f"{PRODUCT_ALIAS}.main.{quote_ident(plan.name)}"
            # CREATE TABLE AS returns its row count: no second query per table
            rows = int(
                con.execute(f"CREATE TABLE {target} AS SELECT * FROM {plan.staged}{where}").fetchall()[0][0]
            )
            suppressed = 0
            if plan.suppressed_in:
                sql = f"SELECT count(*) FROM {plan.suppressed_in} WHERE {prefix_filter('jurisdiction_code', prefix)}"
                suppressed = int(con.execute(sql).fetchall()[0][0])
            records.append(TableRecord(plan.name, plan.dataset, plan.kind, rows, suppressed, plan.columns))
        cols = ", ".join(
            f"{quote_literal(str(v) if v is not None else '')} AS {quote_ident(k)}" for k, v in meta.items()
        )
        con.execute(f"CREATE TABLE {PRODUCT_ALIAS}.main.{META_PRODUCT} AS SELECT {cols}")
        # the column descriptions as one registered frame: a literal VALUES list of ~200 rows cost ~9 ms to parse
        described = [(r.table, c.name, c.treatment, c.classification, c.reason, r.rows)
                     for r in records for c in r.columns]  # fmt: skip
        frame = pl.DataFrame(described, schema=_COLUMNS_SCHEMA, orient="row")
        con.register("_described_columns", frame)
        try:
            con.execute(
                f"CREATE TABLE {PRODUCT_ALIAS}.main.{META_COLUMNS} AS SELECT * FROM _described_columns"
            )
        finally:
            con.unregister("_described_columns")
        con.execute("COMMIT")
        committed = True
        con.execute(f"CHECKPOINT {PRODUCT_ALIAS}")
    finally:
        if not committed:
            con.execute("ROLLBACK")
        con.execute(f"DETACH {PRODUCT_ALIAS}")
    wal = Path(str(tmp) + ".wal")
    if wal.exists():
        raise PublishError(f"{tmp}: a WAL file remained after CHECKPOINT/DETACH")
    fsync_path(tmp)
    return records


def product_meta(
    principal: Principal,
    name: str | None,
    run_id: str,
    published_at: dt.datetime,
    policy: Policy,
    key_fingerprint: str,
    generation: str,
) -> dict[str, object]:
    return {
        "principal": principal.ref,
        "tier": principal.tier.value,
        "tier_code": TIER_CODES[principal.tier],
        "jurisdiction": principal.jurisdiction,
        "jurisdiction_name": name,
        "department": principal.department,
        "purpose": principal.purpose,
        "suffix": principal.suffix,
        "run_id": run_id,
        "generation": generation,
        "published_at": published_at.isoformat(),
        "policy_version": policy.version,
        "mask_key_fingerprint": key_fingerprint,
    }
