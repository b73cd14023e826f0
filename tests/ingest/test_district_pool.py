"""Districts ingested by a pool of processes: the same tables as one process, and a failing district stops
no other."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from assets.common import paths
from assets.ingest import accounting, district_pool, pipeline, store_views
from assets.ingest.catalog import load_catalog
from assets.ingest.parquet_store import TABLES, DistrictStore
from assets.reference.divisions import load_divisions

LANDING = paths.SAMPLE_LANDING
DISTRICTS = ["310101", "310104", "310105"]
RUN_DEPENDENT = {"run_id", "ingested_at"}  # differ between any two runs


def _ctx() -> pipeline.IngestContext:
    return pipeline.IngestContext.build(load_catalog(LANDING), load_divisions())


def _tables(store: DistrictStore) -> dict[str, pl.DataFrame]:
    con = duckdb.connect()
    out = {}
    for table in TABLES:
        files = [str(p) for p in store.current_files(table)]
        frame = con.sql(f"SELECT * FROM read_parquet({files}, union_by_name = true)").pl()
        frame = frame.drop([c for c in frame.columns if c in RUN_DEPENDENT])
        out[table] = frame.sort(frame.columns, nulls_last=True)
    return out


def test_pool_writes_the_same_tables_as_one_process(tmp_path: Path) -> None:
    ctx = _ctx()
    serial = DistrictStore(tmp_path / "serial")
    pooled = DistrictStore(tmp_path / "pooled")
    one = district_pool.ingest_districts(serial, LANDING, DISTRICTS, ctx, "run-1", workers=1)
    two = district_pool.ingest_districts(pooled, LANDING, DISTRICTS, ctx, "run-2", workers=2)
    assert [r.district_code for r in two] == DISTRICTS  # in the order asked, whatever order they finished in
    assert [vars(r) for r in one] == [vars(r) for r in two]
    assert sum(r.rows_read for r in two) > 1000
    a, b = _tables(serial), _tables(pooled)
    for table in TABLES:
        assert a[table].equals(b[table]), table
    con = store_views.scratch_connection(pooled)
    per_file = accounting.file_accounting(con)  # read = staged + quarantined + skipped + replaced, per file
    assert per_file.height == sum(r.files_seen for r in two)
    assert per_file.filter(pl.col("unaccounted") != 0).is_empty()
    assert int(per_file["rows_read"].sum()) == sum(r.rows_read for r in two)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_district_stops_no_other(tmp_path: Path, workers: int) -> None:
    store = DistrictStore(tmp_path / "store")
    store.root.mkdir(parents=True)
    # planted defect: a *file* where district 310104's store folder must go, so its generation cannot be written
    (store.root / "310104").write_text("not a folder")
    with pytest.raises(district_pool.DistrictsFailed) as failed:
        district_pool.ingest_districts(store, LANDING, DISTRICTS, _ctx(), "run-1", workers=workers)
    assert list(failed.value.failures) == ["310104"]
    assert "district 310104" in str(failed.value)
    assert [r.district_code for r in failed.value.results] == ["310101", "310105"]
    assert store.districts() == ["310101", "310105"]
