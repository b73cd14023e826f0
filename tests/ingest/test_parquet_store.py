"""The Parquet store of district generations: atomic swap, crashes, concurrent writers, views, migration."""

from __future__ import annotations

import multiprocessing as mp
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from assets.common.warehouse import connect
from assets.ingest import pipeline, store_views
from assets.ingest.catalog import load_catalog
from assets.ingest.parquet_store import POINTER, TABLES, DistrictStore, empty_frame
from assets.reference.divisions import load_divisions
from tests.ingest.test_pipeline import COMMITTEE_FILE, FIELDS, FORMS, ROWS, write


@pytest.fixture()
def landing(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    (root / "catalog").mkdir(parents=True)
    (root / "catalog" / "forms.csv").write_text(FORMS, encoding="utf-8")
    (root / "catalog" / "form_fields.csv").write_text(FIELDS, encoding="utf-8")
    write(root, COMMITTEE_FILE, "\n".join(ROWS) + "\n", "gbk")
    write(root, COMMITTEE_FILE.replace("310101002001", "310101002002"), "\n".join(ROWS[:3]) + "\n")
    return root


def _ctx(landing: Path) -> pipeline.IngestContext:
    return pipeline.IngestContext.build(load_catalog(landing), load_divisions())


def _counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLES}


def _frames(district: str, n: int) -> dict[str, pl.DataFrame]:
    """n registry rows of made-up files of `district`, every other table empty."""
    schema = empty_frame("raw.landing_files").schema
    rows = [{"file_id": f"{district}-{i}", "district_code": district, "status": "ingested"} for i in range(n)]
    return {"raw.landing_files": pl.DataFrame(rows, schema=schema)}


def test_views_exist_and_are_empty_before_any_district_is_ingested(tmp_path: Path) -> None:
    with connect(tmp_path / "w.duckdb") as con:
        assert store_views.refresh_views(con) == {}
        assert _counts(con) == dict.fromkeys(TABLES, 0)
        # typed as the warehouse always declared them
        types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_schema = 'raw' AND table_name = 'landing_files'").fetchall())  # fmt: skip
        assert types["warnings"] == "VARCHAR[]" and types["ingested_at"] == "TIMESTAMP"
        assert con.execute("SELECT count(*) FROM quarantine.rejected_files").fetchall() == [(0,)]


def test_rerun_reads_nothing_and_writes_no_new_generation(tmp_path: Path, landing: Path) -> None:
    store = DistrictStore(tmp_path / "store")
    first = pipeline.ingest_district_to_store(store, landing, "310101", _ctx(landing), "run-1")
    generation = store.current("310101")
    assert first.files_read == 2 and generation is not None
    again = pipeline.ingest_district_to_store(store, landing, "310101", _ctx(landing), "run-2")
    assert (again.files_read, again.files_kept) == (0, 2)
    assert store.current("310101") == generation  # nothing changed: the generation stays
    # a removed file: a new generation without its rows; the replaced one is kept for the views until refreshed
    (landing / COMMITTEE_FILE.replace("310101002001", "310101002002")).unlink()
    third = pipeline.ingest_district_to_store(store, landing, "310101", _ctx(landing), "run-3")
    current = store.current("310101")
    assert third.files_kept == 1 and current != generation and generation.folder.is_dir()
    assert pl.read_parquet(current.path("raw.landing_files")).height == 1
    store.prune("310101")
    assert not generation.folder.exists() and current.folder.is_dir()


def test_crash_mid_write_leaves_the_previous_generation_readable(tmp_path: Path, landing: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    with connect(warehouse) as con:
        pipeline.ingest_district(con, landing, "310101", _ctx(landing), "run-1")
        before = _counts(con)
    store = DistrictStore.beside(warehouse)
    good = store.current("310101")
    # planted: a writer died after writing part of a new generation, before swapping CURRENT
    half = good.folder.parent / "99999999999999999999-1-dead"
    half.mkdir()
    (half / "form_values.parquet").write_bytes(b"PAR1 truncated")
    (good.folder.parent / f"{POINTER}.{half.name}.tmp").write_text(half.name)
    with connect(warehouse) as con:
        store_views.refresh_views(con, prune=False)
        assert _counts(con) == before  # the half-written folder is never listed
    pipeline.ingest_district_to_store(store, landing, "310101", _ctx(landing), "run-2", full_refresh=True)
    assert not half.exists()  # the next writer of the district removes the leftovers
    assert not list(good.folder.parent.glob(f"{POINTER}.*.tmp"))


def test_removed_or_broken_district_folder_reads_as_not_ingested(tmp_path: Path, landing: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    with connect(warehouse) as con:
        pipeline.ingest_district(con, landing, "310101", _ctx(landing), "run-1")
        assert _counts(con)["raw.landing_files"] == 2
    store = DistrictStore.beside(warehouse)
    # planted: CURRENT names a generation that was deleted by hand
    current = store.current("310101")
    for path in current.folder.iterdir():
        path.unlink()
    current.folder.rmdir()
    assert store.current("310101") is None and store.districts() == []
    with connect(warehouse) as con:
        store_views.refresh_views(con)
        assert _counts(con)["raw.landing_files"] == 0
        # the next run reads every file again
        assert pipeline.ingest_district(con, landing, "310101", _ctx(landing), "run-2").files_read == 2
        assert _counts(con)["raw.landing_files"] == 2


def _commit_many(root: str, district: str, n: int, barrier) -> None:  # noqa: ANN001 (a multiprocessing barrier)
    store = DistrictStore(root)
    barrier.wait()
    for i in range(5):
        store.commit(district, store.current(district), [], _frames(district, n + i), run_id=f"w{n}")


def test_two_writers_of_the_same_district_never_corrupt_it(tmp_path: Path) -> None:
    root = tmp_path / "store"
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(3)
    procs = [ctx.Process(target=_commit_many, args=(str(root), "310101", n, barrier)) for n in (10, 100)]
    procs.append(ctx.Process(target=_commit_many, args=(str(root), "310104", 1000, barrier)))
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    store = DistrictStore(root)
    final = pl.read_parquet(store.current("310101").path("raw.landing_files"))
    # the last writer wins whole: one writer's complete generation, never a mix
    assert (
        final.height in {14, 104}
        and final["file_id"].str.split("-").list.get(1).cast(int).max() < final.height
    )
    assert pl.read_parquet(store.current("310104").path("raw.landing_files")).height == 1004
    with connect(tmp_path / "w.duckdb") as con:
        store_views.refresh_views(con, store)
        assert _counts(con)["raw.landing_files"] == final.height + 1004
    assert len([p for p in (root / "310101").iterdir() if p.is_dir()]) == 1  # pruned after the views moved


def test_tables_of_an_older_warehouse_move_into_the_store(tmp_path: Path, landing: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    with connect(warehouse) as con:
        pipeline.ingest_district(con, landing, "310101", _ctx(landing), "run-1")
        pipeline.record_unplaced(con, landing, _ctx(landing), "run-1")
        expected = {t: con.sql(f"SELECT * FROM {t} ORDER BY ALL").pl() for t in TABLES}
        # planted: the warehouse as it was before the store, ingestion tables as tables
        for t in TABLES:
            con.execute(f"CREATE TABLE {t}_old AS SELECT * FROM {t}")
        con.execute("DROP VIEW quarantine.rejected_files")
        for t in TABLES:
            con.execute(f"DROP VIEW {t}")
            con.execute(f"ALTER TABLE {t}_old RENAME TO {t.split('.')[1]}")
    shutil.rmtree(DistrictStore.beside(warehouse).root)
    with connect(warehouse) as con:
        store_views.refresh_views(con)
        kinds = con.execute("SELECT DISTINCT table_type FROM information_schema.tables WHERE table_schema || '.' "
                            "|| table_name IN ?", [list(TABLES)]).fetchall()  # fmt: skip
        assert kinds == [("VIEW",)]
        for t, frame in expected.items():
            assert con.sql(f"SELECT * FROM {t} ORDER BY ALL").pl().equals(frame), t
    assert DistrictStore.beside(warehouse).districts() == ["310101"]  # the sample has nothing unplaced
