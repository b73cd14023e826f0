"""Dagster metadata for warehouse tables: row count, column schema and a Markdown preview.

Imported only by `defs.py` modules (it imports dagster); the pure modules never need it.
"""

from __future__ import annotations

import dagster as dg
import duckdb

from assets.common import warehouse


def table_metadata(
    con: duckdb.DuckDBPyConnection,
    qualified: str,
    where_sql: str = "TRUE",
    preview_sql: str | None = None,
    preview_rows: int = 10,
) -> dict[str, object]:
    """Standard metadata for one table (or one partition of it, through `where_sql`)."""
    columns = warehouse.column_types(con, qualified)
    row_count = warehouse.count_rows(con, qualified, where_sql)
    preview = warehouse.read_frame(
        con, preview_sql or f"SELECT * FROM {qualified} WHERE {where_sql} LIMIT {preview_rows}"
    )
    return {
        "dagster/row_count": dg.MetadataValue.int(row_count),
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name=name, type=dtype) for name, dtype in columns]
        ),
        "dagster/table_name": dg.MetadataValue.text(f"jianfu.{qualified}"),
        "preview": dg.MetadataValue.md(warehouse.markdown_preview(preview, preview_rows)),
    }
