"""Staging a district's files in a process pool gives the same rows, in the same order, as one process."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from assets.ingest import parallel, pipeline
from assets.ingest.catalog import load_catalog
from assets.reference.divisions import load_divisions

TABLES = (
    "raw.landing_files",
    "staging.form_records",
    "staging.form_values",
    "quarantine.rows",
    "raw.skipped_rows",
)


def _ingest(landing: Path, db: Path, workers: int) -> dict[str, list[tuple]]:
    parallel.configure(workers)
    ctx = pipeline.IngestContext.build(load_catalog(landing), load_divisions())
    con = duckdb.connect(str(db))
    for layer in ("raw", "staging", "quarantine"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {layer}")
    try:
        for district in sorted(p.name for p in landing.iterdir() if p.name.isdigit()):
            pipeline.ingest_district(con, landing, district, ctx, run_id="r1")
        out = {}
        for table in TABLES:
            cols = "* EXCLUDE (ingested_at)" if table == "raw.landing_files" else "*"
            out[table] = con.execute(f"SELECT {cols} FROM {table}").fetchall()  # insertion order, not sorted
        return out
    finally:
        con.close()


def test_pool_and_serial_stage_the_same_rows_in_the_same_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assets.generator.cli import main as generate

    assert generate(["--preset", "tiny", "--out", str(tmp_path), "--quiet"]) in (0, None)
    landing = tmp_path / "landing"
    monkeypatch.setattr(parallel, "MIN_FILES_FOR_POOL", 1)  # the tiny districts would otherwise stay serial
    default = parallel._workers
    try:
        serial = _ingest(landing, tmp_path / "serial.duckdb", workers=1)
        pooled = _ingest(landing, tmp_path / "pooled.duckdb", workers=2)
    finally:
        parallel.configure(default)
    assert serial["staging.form_records"]  # the tiny landing zone has rows (and, planted, broken files)
    assert any(r[11] == "rejected" for r in serial["raw.landing_files"])
    for table in TABLES:
        assert pooled[table] == serial[table], table
