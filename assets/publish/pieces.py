"""A large product (the city's, a district's) updated from per-partition pieces instead of rebuilt from all rows.

When a product must be rewritten because some of its partitions (jurisdiction codes) changed, but everything
else it is made of did not — the same base digest (policy, key, code, profile decisions) and the same
k-anonymity steps on today's rows — then a row of an unchanged partition would be treated exactly as before.
So only the changed partitions' rows are staged and written into a *delta* product, which is leak-scanned in
full like any product (scan once, as written); the final product is the previous product's rows of the
unchanged partitions followed by the delta's rows. Counts tables (small, and their suppression spans a
jurisdiction), golden datasets (a value is shown if delivered anywhere in the jurisdiction) and reference
tables always come whole from the delta. Anything unexpected (a missing table, other columns, an encrypted
product) falls back to a full rebuild.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from assets.publish.binding import BoundDataset
from assets.publish.masking import quote_ident, quote_literal
from assets.publish.types import TablePlan, TableRecord
from assets.publish.writer import META_COLUMNS, META_PRODUCT, PRODUCT_ALIAS, fsync_path

log = logging.getLogger(__name__)

OLD_ALIAS = "previous_product"
DELTA_ALIAS = "delta_product"
MAX_CHANGED_SHARE = 0.5  # above this share of changed partitions a full rebuild is as cheap


def pieceable(b: BoundDataset) -> bool:
    """Row tables whose rows depend on their own partition only."""
    return b.spec.jurisdiction is not None and b.spec.golden is None and not b.spec.reference


def changed_codes(
    old_parts: Mapping[str, Mapping[str, str]], new_parts: Mapping[str, Mapping[str, str]]
) -> dict[str, list[str]]:
    """Per dataset: codes whose rows changed, appeared or disappeared since the previous product."""
    out = {}
    for name in set(old_parts) | set(new_parts):
        old, new = old_parts.get(name, {}), new_parts.get(name, {})
        out[name] = sorted(c for c in set(old) | set(new) if old.get(c) != new.get(c))
    return out


def worth_it(changed: Mapping[str, list[str]], new_parts: Mapping[str, Mapping[str, str]]) -> bool:
    total = sum(len(v) for v in new_parts.values())
    return total > 0 and sum(len(v) for v in changed.values()) <= MAX_CHANGED_SHARE * total


def delta_bound(
    bound: list[BoundDataset], prefix: str, changed: Mapping[str, list[str]]
) -> list[BoundDataset]:
    """The datasets the delta's row tables are staged from: changed partitions of pieceable datasets, every row
    under `prefix` of the others."""
    from dataclasses import replace

    from assets.publish.scope import scoped

    out = []
    for b in scoped(bound, prefix):
        if pieceable(b):
            codes = changed.get(b.name, [])
            cond = (
                f"{quote_ident(b.spec.jurisdiction or '')} IN ({', '.join(quote_literal(c) for c in codes)})"
                if codes
                else "false"
            )
            b = replace(b, relation=f"(SELECT * FROM {b.relation} WHERE {cond})")
        out.append(b)
    return out


def _columns(con: duckdb.DuckDBPyConnection, alias: str, table: str) -> list[tuple[str, str]]:
    return [
        (str(r[0]), str(r[1]))
        for r in con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = ? AND schema_name = 'main' "
            "AND table_name = ? ORDER BY column_index",
            [alias, table],
        ).fetchall()
    ]


def assemble(
    con: duckdb.DuckDBPyConnection,
    old: Path,
    delta: Path,
    target: Path,
    plans: list[TablePlan],
    bound: Mapping[str, BoundDataset],
    changed: Mapping[str, list[str]],
    records: list[TableRecord],
) -> tuple[list[TableRecord], int] | None:
    """Write `target` = the old product's unchanged partitions + the delta; (records, reused rows), or None when
    the old product does not fit (then the caller rebuilds in full)."""
    con.execute(f"ATTACH {quote_literal(str(old))} AS {OLD_ALIAS} (READ_ONLY)")
    con.execute(f"ATTACH {quote_literal(str(delta))} AS {DELTA_ALIAS} (READ_ONLY)")
    attached = False
    try:
        selects: dict[str, str] = {}
        for plan in plans:
            b = bound.get(plan.dataset)
            src = f"{DELTA_ALIAS}.main.{quote_ident(plan.name)}"
            if plan.kind == "rows" and b is not None and pieceable(b) and plan.jurisdiction:
                if _columns(con, OLD_ALIAS, plan.name) != _columns(con, DELTA_ALIAS, plan.name):
                    log.info("%s: table %s changed shape, rebuilt in full", old.name, plan.name)
                    return None
                codes = changed.get(plan.dataset, [])
                keep = (f"{quote_ident(plan.jurisdiction)} NOT IN ({', '.join(quote_literal(c) for c in codes)})"
                        if codes else "true")  # fmt: skip
                selects[plan.name] = (f"SELECT * FROM {OLD_ALIAS}.main.{quote_ident(plan.name)} WHERE {keep} "
                                      f"UNION ALL SELECT * FROM {src}")  # fmt: skip
            else:
                selects[plan.name] = f"SELECT * FROM {src}"
        for stale in (target, Path(str(target) + ".wal")):
            stale.unlink(missing_ok=True)
        con.execute(f"ATTACH {quote_literal(str(target))} AS {PRODUCT_ALIAS}")
        attached = True
        rows: dict[str, int] = {}
        for name, sql in selects.items():
            con.execute(f"CREATE TABLE {PRODUCT_ALIAS}.main.{quote_ident(name)} AS {sql}")
            rows[name] = int(
                con.execute(f"SELECT count(*) FROM {PRODUCT_ALIAS}.main.{quote_ident(name)}").fetchall()[0][0]
            )
        for meta in (META_PRODUCT, META_COLUMNS):
            con.execute(
                f"CREATE TABLE {PRODUCT_ALIAS}.main.{meta} AS SELECT * FROM {DELTA_ALIAS}.main.{meta}"
            )
        for name, n in rows.items():
            con.execute(
                f"UPDATE {PRODUCT_ALIAS}.main.{META_COLUMNS} SET row_count = ? WHERE table_name = ?",
                [n, name],
            )
        con.execute(f"CHECKPOINT {PRODUCT_ALIAS}")
    finally:
        if attached:
            con.execute(f"DETACH {PRODUCT_ALIAS}")
        con.execute(f"DETACH {DELTA_ALIAS}")
        con.execute(f"DETACH {OLD_ALIAS}")
    fsync_path(target)
    out = [TableRecord(r.table, r.dataset, r.kind, rows.get(r.table, r.rows), r.suppressed_cells, r.columns)
           for r in records]  # fmt: skip
    reused = sum(rows.values()) - sum(r.rows for r in records)
    return out, reused


def record_fields(base: str, parts: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """What the generation record keeps so that the next run can reuse this product's pieces."""
    return {"base": base, "parts": {k: dict(v) for k, v in parts.items()}}
