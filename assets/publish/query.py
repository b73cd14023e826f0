"""Read-only SQL against one principal's product, every attempt in the audit log.

The statement is parsed by DuckDB's own parser, never filtered by keywords: `extract_statements` must give
exactly one SELECT, and its parse tree (`json_serialize_sql`) may only read tables of the product (and CTEs)
and a few pure table functions — no file-reading function (read_csv, read_text, glob, read_parquet, …), no
`query()`. It then runs on an in-memory connection with only the product attached read-only, external access
disabled, the configuration locked, a memory limit and a temp folder outside the working folder, under a
timeout (`con.interrupt()`); Ctrl-C interrupts it too. Each attempt is logged twice: `started` before it runs
(so a query killed with SIGKILL is still in the log) and its outcome: ok, refused, error, timeout, interrupted.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import tempfile
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from assets.publish import manifest

if TYPE_CHECKING:
    import polars as pl
from assets.publish.masking import quote_literal
from assets.publish.types import TIER_CODES, PrincipalRef, Tier, parse_principal_ref

# Table functions that compute values only (no file, no catalog, no other SQL): everything else is refused.
ALLOWED_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
# Scalar functions that reach outside the product (environment, files, settings) are refused as well.
FORBIDDEN_FUNCTIONS = frozenset({"getenv", "current_setting", "query", "query_table", "read_blob", "read_text",
                                 "glob", "sniff_csv", "duckdb_secrets", "duckdb_settings", "which_secret"})  # fmt: skip
DEFAULT_TIMEOUT = 30.0
DEFAULT_MEMORY = "1GB"


class QueryRefused(ValueError):
    """The statement is not a single read-only SELECT over the product's own tables."""


def key_env_var(tier: Tier) -> str:
    return f"JIANFU_PRODUCT_KEY_{TIER_CODES[tier].upper()}"


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def _ambiguous_characters(sql: str) -> list[str]:
    """Characters that parsers, terminals and log readers disagree about (line/paragraph separators, format
    and control characters): DuckDB reads `-- x\u2028COPY …` as one comment, a log viewer as two lines."""
    bad = {f"U+{ord(ch):04X}" for ch in sql
           if unicodedata.category(ch) in ("Zl", "Zp", "Cf", "Co", "Cs")
           or (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r")}  # fmt: skip
    return sorted(bad)


def check_sql(sql: str, tables: set[str] | None = None) -> str:
    """The statement if it is one SELECT reading only `tables` (and its CTEs); QueryRefused otherwise."""
    bad = _ambiguous_characters(sql)
    if bad:
        raise QueryRefused(f"the query contains invisible or line-separating characters ({', '.join(bad)}): "
                           "write it in plain text")  # fmt: skip
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefused(f"cannot parse the query: {str(exc).splitlines()[0]}") from exc
    if len(statements) != 1:
        raise QueryRefused(f"give exactly one statement, got {len(statements)}")
    if statements[0].type != duckdb.StatementType.SELECT:
        raise QueryRefused(f"{statements[0].type.name} statements are not allowed: only SELECT")
    text = statements[0].query
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET enable_external_access = false")
        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [text]).fetchall()[0][0])
    finally:
        con.close()
    if tree.get("error"):
        raise QueryRefused(f"not a plain SELECT: {tree.get('error_message', 'unparsable')}")
    ctes: set[str] = set()
    for node in _walk(tree):
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            ctes |= {str(m.get("key", "")).lower() for m in cte_map.get("map", []) if isinstance(m, dict)}
    for node in _walk(tree):
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            name = str((node.get("function") or {}).get("function_name", "")).lower()
            if name not in ALLOWED_TABLE_FUNCTIONS:
                raise QueryRefused(
                    f"table function {name}() is not allowed: queries read the product's tables only"
                )
        elif kind == "BASE_TABLE":
            name = str(node.get("table_name", ""))
            if node.get("catalog_name") not in ("", None, "product") or node.get("schema_name") not in (
                "",
                None,
                "main",
            ):
                raise QueryRefused(f"{name}: only the product's own tables can be read")
            if tables is not None and name.lower() not in {t.lower() for t in tables} | ctes:
                raise QueryRefused(
                    f"{name!r} is not a table of this product (tables: {', '.join(sorted(tables))})"
                )
        elif node.get("class") == "FUNCTION":
            name = str(node.get("function_name", "")).lower()
            if name in FORBIDDEN_FUNCTIONS:
                raise QueryRefused(f"{name}() is not allowed in queries")
    return text.strip().rstrip(";")


def open_product(
    path: Path, key: str | None = None, memory_limit: str = DEFAULT_MEMORY
) -> duckdb.DuckDBPyConnection:
    """A locked-down connection: only `path` attached, read-only; no external access; settings locked."""
    con = duckdb.connect(":memory:")
    spill = tempfile.mkdtemp(prefix="jianfu-query-")  # outside the working folder, never the product's folder
    opts = f"READ_ONLY, ENCRYPTION_KEY {quote_literal(key)}" if key else "READ_ONLY"
    try:
        con.execute(f"ATTACH {quote_literal(str(path))} AS product ({opts})")
        con.execute("USE product")
        con.execute(f"SET memory_limit = {quote_literal(memory_limit)}")
        con.execute(f"SET temp_directory = {quote_literal(spill)}")
        con.execute("SET autoinstall_known_extensions = false")
        con.execute("SET autoload_known_extensions = false")
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
    status: str  # ok | refused | error | timeout | interrupted
    message: str
    frame: pl.DataFrame | None  # noqa: F821
    seconds: float
    query_id: str


def resolve_product(published_dir: Path, ref: PrincipalRef) -> Path:
    """The product as of now (resolving `current` once, so a switch during the query changes nothing)."""
    return (published_dir / ref.product_relpath).resolve()


def _run_with_timeout(con: duckdb.DuckDBPyConnection, sql: str, timeout: float) -> pl.DataFrame:  # noqa: F821
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["frame"] = con.sql(sql).pl()
        except BaseException as exc:  # noqa: BLE001 — handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    try:
        worker.join(timeout)
    except KeyboardInterrupt:
        con.interrupt()
        worker.join(5)
        raise
    if worker.is_alive():
        con.interrupt()
        worker.join(5)
        raise TimeoutError(f"the query ran longer than {timeout:g}s and was interrupted")
    if "error" in box:
        raise box["error"]
    return box["frame"]


def run_query(
    published_dir: str | Path,
    principal: str,
    sql: str,
    env: Mapping[str, str] | None = None,
    log: bool = True,
    *,
    audit: manifest.AuditSettings | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    memory_limit: str = DEFAULT_MEMORY,
) -> QueryOutcome:
    """Run `sql` as `principal` on its product only; log the attempt (refused, failed and stopped ones too)."""
    published_dir = Path(published_dir)
    t0 = time.perf_counter()
    query_id = uuid.uuid4().hex
    status, message, frame, product, run_id = "error", "", None, "", None
    ref_text = principal
    base = {"type": "query", "query_id": query_id, "os_user": getpass.getuser(), "sql": sql}

    def write(entry: dict[str, Any]) -> None:
        if log and audit is not None:
            manifest.log_query(audit, {**base, "queried_at": dt.datetime.now(dt.UTC).isoformat(), **entry})

    interrupted = False
    try:
        ref = parse_principal_ref(principal)
        ref_text, product = ref.ref, ref.product_relpath
        path = resolve_product(published_dir, ref)
        if not path.exists():
            raise FileNotFoundError(f"no product for {ref.ref} at {published_dir / ref.product_relpath}")
        key = (env or {}).get(key_env_var(ref.tier)) or None
        try:
            con = open_product(path, memory_limit=memory_limit)
        except duckdb.Error as exc:
            if key is None or "encrypt" not in str(exc).lower():
                raise
            con = open_product(path, key, memory_limit=memory_limit)
        try:
            meta = con.execute("SELECT principal, run_id FROM _product").fetchall()
            if not meta or meta[0][0] != ref.ref:
                raise QueryRefused(f"{path} is not the product of {ref.ref}")
            run_id = meta[0][1]
            tables = {str(r[0]) for r in con.execute("SELECT table_name FROM duckdb_tables() "
                                                      "WHERE database_name = 'product'").fetchall()}  # fmt: skip
            stmt = check_sql(sql, tables)
            write({"status": "started", "principal": ref_text, "product": product, "product_run_id": run_id,
                   "message": f"timeout {timeout:g}s, memory {memory_limit}"})  # fmt: skip
            frame = _run_with_timeout(con, stmt, timeout)
        finally:
            con.close()
        status, message = "ok", f"{frame.height} rows"
    except QueryRefused as exc:
        status, message = "refused", str(exc)
    except TimeoutError as exc:
        status, message = "timeout", str(exc)
    except KeyboardInterrupt:
        status, message, interrupted = "interrupted", "stopped by the user (Ctrl-C)", True
    except (duckdb.Error, FileNotFoundError, ValueError, OSError) as exc:
        status, message = "error", str(exc).splitlines()[0][:500]
    seconds = time.perf_counter() - t0
    write({"status": status, "principal": ref_text, "product": product, "product_run_id": run_id,
           "row_count": frame.height if frame is not None else None, "seconds": round(seconds, 4),
           "message": message})  # fmt: skip
    if interrupted:
        raise KeyboardInterrupt
    return QueryOutcome(ref_text, product, status, message, frame, seconds, query_id)
