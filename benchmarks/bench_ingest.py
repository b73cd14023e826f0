"""Ingestion throughput and peak memory on a generated landing zone (default: the `bench` preset, ≥1M rows).

    .venv/bin/python benchmarks/bench_ingest.py [--landing DIR] [--keep]

Generates the landing zone into benchmarks/out/ unless --landing is given, then ingests every district
with the same code the Dagster asset runs (assets.ingest.pipeline), into a fresh DuckDB file, and prints
rows/s per stage and the process's peak RSS. Figures, not assertions: nothing here is a test.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import time
from pathlib import Path

import polars as pl

from assets.common.warehouse import connect
from assets.ingest import pipeline
from assets.ingest.catalog import load_catalog
from assets.reference.divisions import load_divisions

OUT = Path(__file__).resolve().parent / "out"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", type=Path, help="an existing landing zone (skips generation)")
    parser.add_argument("--preset", default="bench")
    parser.add_argument("--keep", action="store_true", help="keep the generated data and the warehouse")
    args = parser.parse_args()

    landing = args.landing
    if landing is None:
        from synth.generator.cli import main as generate

        target = OUT / args.preset
        if not (target / "landing").exists():
            start = time.perf_counter()
            generate(["--preset", args.preset, "--out", str(target)])
            print(f"generated {args.preset} in {time.perf_counter() - start:.1f}s")
        landing = target / "landing"
    files = [p for p in landing.rglob("*") if p.is_file()]
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    print(f"landing: {landing} ({len(files):,} files, {size_mb:,.1f} MB)")

    warehouse = OUT / "bench_ingest.duckdb"
    warehouse.unlink(missing_ok=True)
    ctx = pipeline.IngestContext.build(load_catalog(landing), load_divisions())
    districts = sorted(p.name for p in landing.iterdir() if p.is_dir() and p.name.isdigit())
    results = []
    start = time.perf_counter()
    with connect(warehouse) as con:
        for district in districts:
            t0 = time.perf_counter()
            result = pipeline.ingest_district(con, landing, district, ctx, "bench")
            results.append({**vars(result), "seconds": round(time.perf_counter() - t0, 2)})
        elapsed = time.perf_counter() - start
        unbalanced = pipeline.file_accounting(con).filter(pl.col("unaccounted") != 0).height
        values = con.execute("SELECT count(*) FROM staging.form_values").fetchall()[0][0]
        t0 = time.perf_counter()
        rerun = [pipeline.ingest_district(con, landing, d, ctx, "rerun") for d in districts]
        rerun_seconds = time.perf_counter() - t0
    table = pl.DataFrame(results)
    rows = int(table["rows_read"].sum())
    with pl.Config(tbl_rows=20, tbl_cols=12):
        print(table.select("district_code", "files_read", "rows_read", "rows_staged", "rows_quarantined",
                           "rows_skipped", "files_rejected", "seconds"))  # fmt: skip
    print(f"rows read:        {rows:,} ({int(table['rows_staged'].sum()):,} staged, {values:,} values)")
    print(f"ingest time:      {elapsed:.1f}s  → {rows / elapsed:,.0f} rows/s")
    print(f"rerun (no change):{rerun_seconds:.1f}s, files re-read: {sum(r.files_read for r in rerun)}")
    print(f"peak RSS:         {peak_rss_mb():,.0f} MB")
    print(f"files not adding up: {unbalanced}")
    print(f"warehouse size:   {warehouse.stat().st_size / 1e6:,.1f} MB")
    if not args.keep:
        warehouse.unlink(missing_ok=True)
        if args.landing is None:
            shutil.rmtree(OUT / args.preset, ignore_errors=True)


if __name__ == "__main__":
    main()
