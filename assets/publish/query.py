"""Read-only queries against one principal's product, with every query appended to the audit log.

The product is the boundary: the query runs on a connection that has only that product attached,
read-only, with external access disabled (no ATTACH of other files, no COPY, no file-reading table
functions, no INSTALL/LOAD) and the configuration locked. Only a single SELECT (or EXPLAIN) statement
is accepted. The log is a JSONL file beside the products, so querying never needs the warehouse lock.
"""

from __future__ import annotations

import datetime as dt
import getpass
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from assets.publish import manifest
from assets.publish.masking import quote_literal
from assets.publish.policy import TIER_CODES, PrincipalRef, Tier, parse_principal_ref

ALLOWED_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
FORBIDDEN_KEYWORDS = (
    "ATTACH",
    "DETACH",
    "COPY",
    "INSTALL",
    "LOAD",
    "EXPORT",
    "IMPORT",
    "PRAGMA",
    "SET",
    "CALL",
)
_STRINGS = re.compile(r"'(?:[^']|'')*'")
_KEYWORDS = re.compile(r"\b(" + "|".join(FORBIDDEN_KEYWORDS) + r")\b", re.IGNORECASE)


class QueryRefused(ValueError):
    """The statement is not a single read-only SELECT, or names a forbidden command."""


def key_env_var(tier: Tier) -> str:
    return f"JIANFU_PRODUCT_KEY_{TIER_CODES[tier].upper()}"


def check_sql(sql: str) -> str:
    """Return the single statement if it is a read-only SELECT/EXPLAIN; raise QueryRefused otherwise."""
    bare = _STRINGS.sub("''", sql)
    hit = _KEYWORDS.search(bare)
    if hit:
        raise QueryRefused(
            f"{hit.group(1).upper()} is not allowed: queries are read-only SELECTs on one product"
        )
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefused(f"cannot parse the query: {str(exc).splitlines()[0]}") from exc
    if len(statements) != 1:
        raise QueryRefused(f"give exactly one statement, got {len(statements)}")
    if statements[0].type not in ALLOWED_STATEMENTS:
        raise QueryRefused(f"{statements[0].type.name} statements are not allowed: only SELECT")
    return sql.strip().rstrip(";")


def open_product(path: Path, key: str | None = None) -> duckdb.DuckDBPyConnection:
    """A locked-down connection with only `path` attached, read-only, as the default catalog."""
    con = duckdb.connect(":memory:")
    opts = f"READ_ONLY, ENCRYPTION_KEY {quote_literal(key)}" if key else "READ_ONLY"
    try:
        con.execute(f"ATTACH {quote_literal(str(path))} AS product ({opts})")
        con.execute("USE product")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except Exception:
        con.close()
        raise
    return con


@dataclass
class QueryOutcome:
    principal: str
    product: str
    status: str  # ok | refused | error
    message: str
    frame: pl.DataFrame | None
    seconds: float
    query_id: str


def resolve_product(published_dir: Path, ref: PrincipalRef) -> Path:
    return published_dir / ref.product_relpath


def run_query(
    published_dir: str | Path,
    principal: str,
    sql: str,
    env: Mapping[str, str] | None = None,
    log: bool = True,
) -> QueryOutcome:
    """Run `sql` as `principal` on its product only; log the attempt (also refused ones)."""
    published_dir = Path(published_dir)
    t0 = time.perf_counter()
    query_id = uuid.uuid4().hex
    status, message, frame, product, run_id = "error", "", None, "", None
    ref_text = principal
    try:
        ref = parse_principal_ref(principal)
        ref_text = ref.ref
        path = resolve_product(published_dir, ref)
        product = ref.product_relpath
        stmt = check_sql(sql)
        if not path.exists():
            raise FileNotFoundError(f"no product for {ref.ref} at {path}")
        key = (env or {}).get(key_env_var(ref.tier)) or None
        try:
            con = open_product(path)
        except duckdb.Error as exc:
            if key is None or "encrypt" not in str(exc).lower():
                raise
            con = open_product(path, key)
        try:
            meta = con.execute("SELECT principal, run_id FROM _product").fetchall()
            if not meta or meta[0][0] != ref.ref:
                raise QueryRefused(f"{path} is not the product of {ref.ref}")
            run_id = meta[0][1]
            frame = con.sql(stmt).pl()
        finally:
            con.close()
        status, message = "ok", f"{frame.height} rows"
    except QueryRefused as exc:
        status, message = "refused", str(exc)
    except (duckdb.Error, FileNotFoundError, ValueError) as exc:
        status, message = "error", str(exc).splitlines()[0][:500]
    seconds = time.perf_counter() - t0
    if log:
        manifest.log_query(
            published_dir,
            {
                "type": "query",
                "query_id": query_id,
                "queried_at": dt.datetime.now(dt.UTC).isoformat(),
                "os_user": getpass.getuser(),
                "principal": ref_text,
                "product": product,
                "product_run_id": run_id,
                "sql": sql,
                "status": status,
                "row_count": frame.height if frame is not None else None,
                "seconds": round(seconds, 4),
                "message": message,
            },
        )
    return QueryOutcome(ref_text, product, status, message, frame, seconds, query_id)
