"""Small DuckDB helpers shared by every domain (no dagster import).

Tables are written from polars through Arrow. Partitioned tables are written
delete-then-insert inside one transaction, so a rerun of the same partition
replaces its rows instead of adding to them.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

LAYERS = ("raw", "staging", "catalog", "core", "marts", "quarantine", "audit")


LOCK_WAIT_SECONDS = 120.0
# DuckDB takes up to 80% of RAM by default. On the 24 GiB machines the pipeline runs on, city-scale joins
# (the prefill plan at 1.2M rows reached 21 GB) then crowd out everything else; with a limit they spill
# to `<warehouse>.tmp/` instead.
DEFAULT_MEMORY_LIMIT = "6GB"


def _open(path: Path, read_only: bool, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    """Open the file, waiting while another process holds its lock (DuckDB allows one writer per file)."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.2
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


@contextmanager
def connect(
    path: str | Path,
    read_only: bool = False,
    wait_seconds: float = LOCK_WAIT_SECONDS,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse file, creating its folder and layer schemas when writable."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = _open(path, read_only, wait_seconds)
    try:
        con.execute(f"SET memory_limit = '{memory_limit}'")
        if not read_only:
            for layer in LAYERS:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {layer}")
        yield con
    finally:
        con.close()


def spill_directory() -> str:
    """Where in-memory DuckDB connections spill (their default, `.tmp/` in the working directory, litters
    checkouts)."""
    path = Path(tempfile.gettempdir()) / "jianfu-duckdb-spill"
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, table = qualified.split(".")
    rows = con.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, table],
    ).fetchall()
    return bool(rows)


def replace_table(con: duckdb.DuckDBPyConnection, qualified: str, frame: pl.DataFrame) -> int:
    """Write `frame` as the whole content of `qualified` (CREATE OR REPLACE)."""
    arrow = frame.to_arrow()  # noqa: F841  (referenced by name in the SQL below)
    con.execute(f"CREATE OR REPLACE TABLE {qualified} AS SELECT * FROM arrow")
    return frame.height


def replace_rows(
    con: duckdb.DuckDBPyConnection,
    qualified: str,
    frame: pl.DataFrame,
    where_sql: str,
    params: Sequence[object] = (),
) -> int:
    """Delete the rows matching `where_sql`, then insert `frame`, in one transaction.

    Creates the table from the frame's schema when it does not exist yet. Columns are
    inserted by name, so a frame may list them in any order.
    """
    arrow = frame.to_arrow()  # noqa: F841
    con.execute("BEGIN TRANSACTION")
    try:
        if not table_exists(con, qualified):
            con.execute(f"CREATE TABLE {qualified} AS SELECT * FROM arrow LIMIT 0")
        con.execute(f"DELETE FROM {qualified} WHERE {where_sql}", list(params))
        if frame.height:
            con.execute(f"INSERT INTO {qualified} BY NAME SELECT * FROM arrow")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return frame.height


def read_frame(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> pl.DataFrame:
    """Run a query and return a polars frame (DuckDB 2: results, not connections, give .pl())."""
    return con.sql(sql, params=list(params) or None).pl()


def count_rows(con: duckdb.DuckDBPyConnection, qualified: str, where_sql: str = "TRUE") -> int:
    return int(con.execute(f"SELECT count(*) FROM {qualified} WHERE {where_sql}").fetchall()[0][0])


def column_types(con: duckdb.DuckDBPyConnection, qualified: str) -> list[tuple[str, str]]:
    schema, table = qualified.split(".")
    return [
        (name, dtype)
        for name, dtype in con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, table],
        ).fetchall()
    ]


def markdown_preview(frame: pl.DataFrame, limit: int = 10) -> str:
    """First rows as a Markdown table for the Dagster UI."""
    head = frame.head(limit)
    if head.width == 0:
        return "_empty_"
    cols = head.columns
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in head.iter_rows():
        cells = ["" if v is None else str(v).replace("|", "\\|").replace("\n", " ") for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
