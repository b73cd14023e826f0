"""One transaction for a whole reflow build or reconciliation, instead of one commit per district and table.

Each commit of a district's rows (hundreds of thousands of cells) made DuckDB write its WAL and, past the
checkpoint threshold, checkpoint the database: at bench scale the 48 commits of a build wrote ~2.5 GB for a
~0.7 GB file and spent most of the stage's wall time waiting on the disk. Inside one transaction DuckDB
writes large appends straight to the database file (optimistic writes) and checkpoints once, at the end. A
failure rolls every district back: the tables stay as the last complete build left them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import polars as pl

from assets.common import warehouse


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """BEGIN … COMMIT around the block, ROLLBACK when it raises."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def replace_rows(con: duckdb.DuckDBPyConnection, qualified: str, frame: pl.DataFrame, where_sql: str) -> int:
    """`warehouse.replace_rows` inside the caller's transaction: delete the rows matching `where_sql`, insert
    `frame` by column name; the table is created from the frame's schema when missing."""
    arrow = frame.to_arrow()  # noqa: F841  (referenced by name in the SQL below)
    if not warehouse.table_exists(con, qualified):
        con.execute(f"CREATE TABLE {qualified} AS SELECT * FROM arrow LIMIT 0")
    con.execute(f"DELETE FROM {qualified} WHERE {where_sql}")
    if frame.height:
        con.execute(f"INSERT INTO {qualified} BY NAME SELECT * FROM arrow")
    return frame.height
