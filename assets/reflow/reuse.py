"""Returned files reconciled on an earlier night, unchanged since: keep their rows instead of reading them again.

A prefill return's reconciliation (reflow.returns / return_rows / return_cells rows of that file) is a
function of the file's bytes, the prefilled rows of the prefill id it carries (reflow.prefill_cells of that
id) and the reconciliation code. `ops.reconciled_returns` remembers, per return file, its content hash, its
prefill id and a digest of those prefilled rows and that code. When all three are the same tonight, the rows
already in the warehouse are what reconciling again would write: they are read back instead (parsing and
reconciling each workbook was most of a district's reconciliation time). Ordinary deliveries are always
read again (they go through ingestion's own reader).
"""

from __future__ import annotations

import duckdb
import polars as pl

from assets.common import fingerprint as fp
from assets.common import warehouse
from assets.reflow import tx

STATE = "ops.reconciled_returns"
CODE = ("assets/reflow/reconcile.py", "assets/reflow/returns.py", "assets/reflow/workbook.py",
        "assets/reflow/reuse.py")  # fmt: skip


def _cells_digests(con: duckdb.DuckDBPyConnection, prefill_ids: list[str]) -> dict[str, str]:
    """Per prefill id, a digest of its prefilled rows and of the reconciliation code."""
    prefill_ids = [p for p in prefill_ids if p]
    if not prefill_ids or not warehouse.table_exists(con, "reflow.prefill_cells"):
        return {}
    code = fp.code_fingerprint(CODE)
    rows = con.execute(
        "SELECT prefill_id, count(*), bit_xor(hash(seq, person_id, field_order, field_label, value, prefilled, "
        "element_code)) FROM reflow.prefill_cells WHERE prefill_id BETWEEN ? AND ? "
        "AND prefill_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY 1",  # the range skips other districts' blocks
        [min(prefill_ids), max(prefill_ids), sorted(set(prefill_ids))],
    ).fetchall()
    return {pid: fp.digest(code, n, h) for pid, n, h in rows}


def reusable(con: duckdb.DuckDBPyConnection, hashes: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Of the return files given (relative path -> content hash), those whose reconciliation can be kept:
    path -> (prefill id, digest)."""
    needed = ("reflow.returns", "reflow.return_rows", "reflow.return_cells", STATE)
    if not hashes or not fp.tables_exist(con, needed):
        return {}
    con.register(
        "_rf_now", pl.DataFrame({"return_file": list(hashes), "file_hash": list(hashes.values())}).to_arrow()
    )
    try:
        known = con.execute(
            f"SELECT s.return_file, s.prefill_id, s.digest FROM {STATE} s JOIN _rf_now n USING (return_file, file_hash) "
            "JOIN reflow.returns r USING (return_file, file_hash) WHERE r.kind = 'prefill_return'"
        ).fetchall()  # fmt: skip
    finally:
        con.unregister("_rf_now")
    now = _cells_digests(con, [pid for _, pid, _ in known])
    return {rel: (pid, digest) for rel, pid, digest in known if now.get(pid) == digest}


def previous_rows(
    con: duckdb.DuckDBPyConnection, files: list[str], schemas: tuple[dict, dict, dict]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The reflow.returns, return_rows and return_cells rows of `files`, as they are in the warehouse."""
    out = []
    for table, schema in zip(
        ("reflow.returns", "reflow.return_rows", "reflow.return_cells"), schemas, strict=True
    ):
        if not files:
            out.append(pl.DataFrame(schema=schema))
            continue
        frame = warehouse.read_frame(
            con, f"SELECT {', '.join(schema)} FROM {table} WHERE return_file IN (SELECT unnest(?::VARCHAR[]))",
            [files],
        )  # fmt: skip
        out.append(frame.cast(schema))  # type: ignore[arg-type]
    return out[0], out[1], out[2]


def remember(con: duckdb.DuckDBPyConnection, files: pl.DataFrame, where_sql: str) -> None:
    """Record hash, prefill id and prefilled-rows digest of this run's prefill returns (their district's
    entries replaced)."""
    returns = files.filter(pl.col("kind") == "prefill_return").select(
        "return_file", "file_hash", "prefill_id"
    )
    digests = _cells_digests(con, returns["prefill_id"].to_list())
    frame = returns.with_columns(
        pl.col("prefill_id").replace_strict(digests, default=None, return_dtype=pl.String).alias("digest")
    )
    con.execute("CREATE SCHEMA IF NOT EXISTS ops")
    tx.replace_rows(con, STATE, frame, where_sql)  # inside reconcile_returns' transaction


def previous_evidence(
    con: duckdb.DuckDBPyConnection, files: list[str], table: str, schema: dict
) -> pl.DataFrame:
    """The person evidence rows that kept return files gave when they were reconciled (source_file = the
    return): content-addressed like their cells, so a night that keeps them repeats no evidence as new."""
    if not files or not warehouse.table_exists(con, table):
        return pl.DataFrame(schema=schema)
    frame = warehouse.read_frame(
        con, f"SELECT {', '.join(schema)} FROM {table} WHERE source_file IN (SELECT unnest(?::VARCHAR[]))", [files]
    )  # fmt: skip
    return frame.cast(schema)  # type: ignore[arg-type]
