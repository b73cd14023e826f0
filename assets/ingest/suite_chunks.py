"""A Great Expectations suite over a table too large to hold whole: validated chunk by chunk (no dagster here).

GX validates pandas frames only (assets/common/expectations.py). At bench scale `staging.form_values` has
~9M rows; as one pandas frame, with GX's working copies, it took gigabytes. Each chunk here is a few
districts' Parquet files, read with only the suite's columns, validated, then dropped; the per-expectation
outcomes are summed. Every expectation the suites use is row-wise (not null, in set, regex), so the sum
over chunks is the outcome over the whole table.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import duckdb
import polars as pl

from assets.common.expectations import ExpectationOutcome, SuiteOutcome, run_suite
from assets.common.warehouse import spill_directory
from assets.ingest.parquet_store import select_sql

CHUNK_ROWS = 1_500_000  # rows per validated frame: ~1.5M rows × 5 columns stays in a few hundred MB
CHUNK_MEMORY = "1GB"  # DuckDB's share while reading a chunk
EXAMPLES = 10


def file_groups(files: Iterable[Path], chunk_rows: int = CHUNK_ROWS) -> Iterator[list[Path]]:
    """Consecutive groups of whole files, each of at least one file and at most about `chunk_rows` rows."""
    group: list[Path] = []
    rows = 0
    for path in files:
        n = pq_rows(path)
        if group and rows + n > chunk_rows:
            yield group
            group, rows = [], 0
        group.append(path)
        rows += n
    if group:
        yield group


def pq_rows(path: Path) -> int:
    """Rows of a Parquet file, from its footer."""
    return pl.scan_parquet(path).select(pl.len()).collect().item()


def table_chunks(
    table: str, files: list[Path], columns: list[str], chunk_rows: int = CHUNK_ROWS
) -> Iterator[pl.DataFrame]:
    """The table's `columns` over `files`, typed as the warehouse declares them, a group of files at a time."""
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = '{CHUNK_MEMORY}'")
        con.execute(f"SET temp_directory = '{spill_directory()}'")
        cols = ", ".join(f'"{c}"' for c in columns)
        for group in file_groups(files, chunk_rows):
            yield con.sql(f"SELECT {cols} FROM ({select_sql(table, group)})").pl()
        if not files:
            yield con.sql(f"SELECT {cols} FROM ({select_sql(table, [])})").pl()
    finally:
        con.close()


def run_suite_chunked(chunks: Iterable[pl.DataFrame], name: str) -> tuple[SuiteOutcome, int]:
    """(the suite's outcome over all chunks, rows validated). An empty chunk is validated only when it is the
    only one, so that an empty table still reports every expectation."""
    merged: list[ExpectationOutcome] | None = None
    rows = 0
    for frame in chunks:
        if frame.is_empty() and merged is not None:
            continue
        outcomes = run_suite(frame, name).outcomes
        rows += frame.height
        merged = outcomes if merged is None else [_add(a, b) for a, b in zip(merged, outcomes, strict=True)]
    if merged is None:
        raise ValueError(f"suite {name}: no chunk to validate")
    return SuiteOutcome(suite=name, success=all(o.success for o in merged), outcomes=merged), rows


def _checked(o: ExpectationOutcome) -> float:
    """Rows the expectation's unexpected_percent is a share of (GX leaves missing values out for most)."""
    if o.unexpected_count and o.unexpected_percent:
        return o.unexpected_count * 100.0 / o.unexpected_percent
    return float(o.element_count)


def _add(a: ExpectationOutcome, b: ExpectationOutcome) -> ExpectationOutcome:
    if (a.expectation, a.column) != (b.expectation, b.column):
        raise ValueError(f"chunks disagree on the suite's expectations: {a.expectation} vs {b.expectation}")
    unexpected = a.unexpected_count + b.unexpected_count
    checked = _checked(a) + _checked(b)
    return ExpectationOutcome(
        expectation=a.expectation,
        column=a.column,
        success=a.success and b.success,
        element_count=a.element_count + b.element_count,
        unexpected_count=unexpected,
        unexpected_percent=100.0 * unexpected / checked if checked else 0.0,
        examples=(a.examples + b.examples)[:EXAMPLES],
    )
