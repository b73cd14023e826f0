"""Masking kinds as DuckDB SQL expressions, and the keyed hash (HMAC-SHA256) they rely on.

Each function takes a SQL expression and returns a SQL expression, so a product is built by one
`CREATE TABLE … AS SELECT` per table. DuckDB has no HMAC built in, but HMAC is two SHA-256 passes over
key pads (RFC 2104), and DuckDB's `sha256` takes BLOBs: `register_hmac` adds a TEMP macro doing exactly that,
natively and on every core (a Python UDF cost ~3x the CPU and held the GIL, once per masked cell).

The key is never read here at import time: `resolve_mask_key` is called at run time with the value of
JIANFU_MASK_KEY (through the Dagster resource or the CLI) and JIANFU_ENV.
"""

from __future__ import annotations

import hashlib
import hmac

import duckdb

from assets.publish.keys import DEV_MASK_KEY, MIN_KEY_BYTES, MaskKey, MaskKeyError, resolve_mask_key

__all__ = ["DEV_MASK_KEY", "MIN_KEY_BYTES", "MaskKey", "MaskKeyError", "resolve_mask_key"]

HMAC_FUNCTION = "jianfu_hmac"


def hmac_hex(key: bytes, value: str) -> str:
    """HMAC-SHA256 of the UTF-8 value, as 64 lower-case hex characters."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """RFC 2104 inner and outer pads of `key` for SHA-256 (block size 64; longer keys are hashed first)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def register_hmac(con: duckdb.DuckDBPyConnection, key: bytes, name: str = HMAC_FUNCTION,
                  native: bool = True) -> None:  # fmt: skip
    """Register `name(VARCHAR) -> VARCHAR` computing HMAC-SHA256 hex with `key` (NULL stays NULL).

    `native`: a TEMP macro of DuckDB's own sha256 (same digests as `hmac_hex`). Its definition holds the
    key pads, readable through `duckdb_functions()` on this connection: register it only on connections
    no one but the publisher issues SQL to (`binding.open_sources`). Otherwise a Python UDF."""
    if native:
        ipad, opad = hmac_pads(key)
        con.execute(
            f"CREATE OR REPLACE TEMP MACRO {quote_ident(name)}(v) AS "
            f"sha256(unhex('{opad.hex()}') || unhex(sha256(unhex('{ipad.hex()}') || encode(v))))"
        )
        return
    import pyarrow as pa  # only where products are built (keeps `jianfu query` start-up light)

    def _udf(values):  # noqa: ANN001, ANN202 — Arrow array in, Arrow array out
        return pa.array(
            [None if v is None else hmac_hex(key, v) for v in values.to_pylist()], type=pa.string()
        )

    con.create_function(
        name,
        _udf,
        [duckdb.sqltypes.VARCHAR],
        duckdb.sqltypes.VARCHAR,
        type="arrow",
        null_handling="special",
        side_effects=False,
    )


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _text(expr: str) -> str:
    return f"CAST({expr} AS VARCHAR)"


def partial_sql(expr: str, semantic: str) -> str:
    """Partial masks: ID first 6 + last 4; phone 3 + 4; name surname + *; address up to the street."""
    t = f"trim({_text(expr)})"
    if semantic == "id_number":
        return (
            f"CASE WHEN {t} IS NULL THEN NULL "
            f"WHEN length({t}) >= 15 THEN left({t}, 6) || repeat('*', length({t}) - 10) || right({t}, 4) "
            f"ELSE repeat('*', length({t})) END"
        )
    if semantic == "phone":
        d = f"regexp_replace({t}, '[^0-9]', '', 'g')"
        return (
            f"CASE WHEN {t} IS NULL OR length({d}) = 0 THEN NULL "
            f"WHEN length({d}) >= 11 THEN left({d}, 3) || repeat('*', length({d}) - 7) || right({d}, 4) "
            f"WHEN length({d}) >= 7 THEN repeat('*', length({d}) - 4) || right({d}, 4) "
            f"ELSE repeat('*', length({d})) END"
        )
    if semantic == "name":
        return (
            f"CASE WHEN {t} IS NULL OR length({t}) = 0 THEN {t} "
            f"ELSE left({t}, 1) || repeat('*', greatest(length({t}) - 1, 1)) END"
        )
    if semantic == "address":
        head = f"regexp_extract({t}, '^(.*?(路|街|道|巷|村|弄))', 1)"
        return (
            f"CASE WHEN {t} IS NULL OR length({t}) = 0 THEN {t} "
            f"WHEN {head} <> '' THEN {head} || '***' "
            f"ELSE left({t}, 3) || '***' END"
        )
    raise ValueError(f"partial masking does not apply to {semantic} values")


def year_only_sql(expr: str, source_type: str) -> str:
    """The year of a date, as text 'YYYY' (DATE/TIMESTAMP columns, or ISO-like text)."""
    upper = source_type.upper()
    if upper.startswith("DATE") or upper.startswith("TIMESTAMP"):
        return f"CAST(year({expr}) AS VARCHAR)"
    return f"nullif(regexp_extract({_text(expr)}, '^\\s*(\\d{{4}})', 1), '')"


def band_sql(expr: str, source_type: str, years: int) -> str:
    """The year generalized to a band of `years` years, as text 'YYYY-YYYY' (k-anonymity)."""
    year = year_only_sql(expr, source_type)
    start = f"(CAST({year} AS INTEGER) // {int(years)}) * {int(years)}"
    return f"CASE WHEN {year} IS NULL THEN NULL ELSE CAST({start} AS VARCHAR) || '-' || CAST({start} + {int(years) - 1} AS VARCHAR) END"


def keyed_hash_sql(expr: str) -> str:
    return f"{HMAC_FUNCTION}(trim({_text(expr)}))"


def treatment_sql(
    action: str, expr: str, semantic: str, source_type: str, as_text: bool = False, band_years: int = 0
) -> str:
    """SQL for one visible treatment of `expr` (a column reference). `as_text` forces VARCHAR output."""
    if action == "show":
        return _text(expr) if as_text else expr
    if action == "partial":
        return partial_sql(expr, semantic)
    if action == "keyed_hash":
        return keyed_hash_sql(expr)
    if action == "year_only":
        return year_only_sql(expr, source_type)
    if action == "band":
        return band_sql(expr, source_type, band_years)
    if action == "nullify":
        return "CAST(NULL AS VARCHAR)" if as_text else f"CAST(NULL AS {source_type})"
    raise ValueError(f"{action!r} is not a row-level treatment")
