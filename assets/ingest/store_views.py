"""The warehouse's ingestion tables as views over each district's current Parquet files (docs/storage.md).

`refresh_views` is the one step that writes the DuckDB file for ingestion: it lists the current generation
of every district (no glob, so an unfinished folder is never read) and replaces the views
`raw.landing_files`, `staging.form_records`, `staging.form_values`, `quarantine.rows`, `raw.skipped_rows`,
`raw.replaced_rows` and `quarantine.rejected_files` in one transaction. Everything downstream keeps reading
those names. A warehouse built before the store had them as tables: their rows move into the store once.
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from assets.common.warehouse import spill_directory
from assets.ingest.parquet_store import REJECTED_FILES_VIEW, TABLES, UNPLACED, DistrictStore, select_sql

log = logging.getLogger(__name__)


def database_path(con: duckdb.DuckDBPyConnection) -> Path:
    """The file behind a connection (the store lives beside it); an in-memory database has none."""
    rows = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()
    if not rows or not rows[0][0]:
        raise ValueError("ingestion needs a warehouse file: its Parquet store lives beside it")
    return Path(rows[0][0])


def store_for(con: duckdb.DuckDBPyConnection) -> DistrictStore:
    return DistrictStore.beside(database_path(con))


def _table_type(con: duckdb.DuckDBPyConnection, qualified: str) -> str | None:
    schema, table = qualified.split(".")
    rows = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_schema = ? AND table_name = ? "
        "AND table_catalog = current_database()",
        [schema, table],
    ).fetchall()
    return rows[0][0] if rows else None


def migrate_tables(con: duckdb.DuckDBPyConnection, store: DistrictStore) -> list[str]:
    """Move rows of ingestion *tables* (a warehouse from before the store) into the store, then drop them.

    A district already in the store keeps its generation (it is newer than the table's rows)."""
    tables = [t for t in TABLES if _table_type(con, t) == "BASE TABLE"]
    if not tables:
        return []
    moved: list[str] = []
    if "raw.landing_files" in tables:
        districts = [r[0] for r in con.execute(
            "SELECT DISTINCT coalesce(district_code, ?) FROM raw.landing_files ORDER BY 1", [UNPLACED]).fetchall()]  # fmt: skip
        for district in districts:
            if store.current(district) is not None:
                continue
            where = "district_code IS NULL" if district == UNPLACED else "district_code = ?"
            params = [] if district == UNPLACED else [district]
            frames = {
                t: con.sql(f"SELECT * FROM {t} WHERE {where}", params=params or None).pl() for t in tables
            }
            store.commit(district, None, [], frames, run_id="migrated-from-tables")
            moved.append(district)
    con.execute("DROP VIEW IF EXISTS quarantine.rejected_files")
    for table in tables:
        con.execute(f"DROP TABLE {table}")
    log.info("moved the ingestion tables of %d district(s) into %s", len(moved), store.root)
    return moved


def refresh_views(
    con: duckdb.DuckDBPyConnection, store: DistrictStore | None = None, prune: bool = True
) -> dict[str, str]:
    """Point the ingestion views at every district's current files; returns district → generation listed.

    With `prune`, generations older than the ones listed are removed afterwards (the views no longer name
    them; a newer one a concurrent writer swapped in meanwhile is kept too)."""
    store = store or store_for(con)
    for layer in {t.split(".")[0] for t in TABLES}:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {layer}")
    migrate_tables(con, store)
    listed = {}
    for district in store.districts():
        generation = store.current(district)
        if generation is not None:
            listed[district] = generation
    con.execute("BEGIN TRANSACTION")
    try:
        for table in TABLES:
            files = [g.path(table) for g in listed.values()]
            con.execute(f"CREATE OR REPLACE VIEW {table} AS {select_sql(table, files)}")
        con.execute(REJECTED_FILES_VIEW)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    if prune:
        for district, generation in listed.items():
            store.prune(district, also_keep=generation.name)
    return {d: g.name for d, g in listed.items()}


def run_files(store: DistrictStore, table: str, districts: list[str] | None = None) -> list[Path]:
    """The current Parquet files of `table` for `districts` (all when None) and the unplaced files."""
    wanted = store.districts() if districts is None else [*districts, UNPLACED]
    return [g.path(table) for d in wanted if (g := store.current(d)) is not None]


SCRATCH_MEMORY = "2GB"  # an in-memory connection's DuckDB share (its default is 80% of the machine)


def scratch_connection(store: DistrictStore, districts: list[str] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB whose ingestion views list only `districts` (all when None) and the unplaced files.

    Checks read a run's districts through it with the same SQL as over the warehouse, without opening (or
    waiting for) the warehouse file, and without validating districts the run did not touch."""
    wanted = store.districts() if districts is None else [*districts, UNPLACED]
    generations = [g for d in wanted if (g := store.current(d)) is not None]
    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit = '{SCRATCH_MEMORY}'")
    con.execute(f"SET temp_directory = '{spill_directory()}'")
    for layer in {t.split(".")[0] for t in TABLES}:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {layer}")
    for table in TABLES:
        con.execute(f"CREATE VIEW {table} AS {select_sql(table, [g.path(table) for g in generations])}")
    con.execute(REJECTED_FILES_VIEW)
    return con
