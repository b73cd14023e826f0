"""Storage that several writers share: one DuckDB file vs Parquet per partition vs Delta Lake.

    .venv/bin/python benchmarks/bench_storage.py [--writers 4 16] [--rows 100000] [--commits 3]
    .venv/bin/python benchmarks/bench_storage.py --ingest [LANDING] [--districts 8] [--processes 2]

`--ingest` measures the built store (assets/ingest/parquet_store.py) instead: the first N districts of a landing
zone (default: the bundled sample) ingested one after another in one process, then by P processes at once,
each into a fresh store; it prints both wall times, the views refresh, a read back through DuckDB, and whether
the two stores hold the same rows.

N writer processes start together; each owns one partition (a district) and replaces it `--commits` times
with `--rows` rows shaped like staging.form_values. Per layout it prints failures, commit latency (median
and max) and the wall time, then how fast DuckDB reads everything back (count + a group-by). Needs the
`storage-eval` extra for Delta Lake (`uv sync --extra storage-eval`). Figures, not assertions.

Layouts:
- `duckdb-file`: every writer opens the one DuckDB file and replaces its rows (today's warehouse), no retry;
- `parquet-rename`: `<root>/district=<d>/part.parquet`, written to a temporary name, then `os.replace`;
- `delta-overwrite`: one Delta table partitioned by district, `mode="overwrite"` with a predicate on the
  writer's district (delta-rs commits optimistically and retries on conflict).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

import duckdb
import polars as pl

DISTRICTS = [f"3101{n:02d}" for n in range(1, 17)]


def frame(district: str, rows: int, commit: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "record_id": [f"{district}-{commit}-{i:08d}" for i in range(rows)],
            "district_code": [district] * rows,
            "form_code": [f"F{i % 40:02d}" for i in range(rows)],
            "field_order": [i % 12 for i in range(rows)],
            "value": [f"值{i % 997}" for i in range(rows)],
        },
        schema={"record_id": pl.String, "district_code": pl.String, "form_code": pl.String,
                "field_order": pl.Int32, "value": pl.String},
    )  # fmt: skip


def _writer(
    layout: str, root: str, district: str, rows: int, commits: int, start_at: float, out: mp.Queue
) -> None:
    latencies: list[float] = []
    errors: list[str] = []
    while time.time() < start_at:
        time.sleep(0.001)
    for commit in range(commits):
        data = frame(district, rows, commit)
        t0 = time.perf_counter()
        try:
            if layout == "duckdb-file":
                con = duckdb.connect(os.path.join(root, "w.duckdb"))
                try:
                    arrow = data.to_arrow()  # noqa: F841
                    con.execute("CREATE TABLE IF NOT EXISTS v AS SELECT * FROM arrow LIMIT 0")
                    con.execute("BEGIN")
                    con.execute("DELETE FROM v WHERE district_code = ?", [district])
                    con.execute("INSERT INTO v SELECT * FROM arrow")
                    con.execute("COMMIT")
                finally:
                    con.close()
            elif layout == "parquet-rename":
                folder = Path(root) / f"district_code={district}"
                folder.mkdir(parents=True, exist_ok=True)
                tmp = folder / f".part.{os.getpid()}.{commit}.tmp"
                data.drop("district_code").write_parquet(tmp)
                os.replace(tmp, folder / "part.parquet")  # atomic: a reader sees the old or the new file
            elif layout == "delta-overwrite":
                from deltalake import write_deltalake

                write_deltalake(root, data.to_arrow(), mode="overwrite", partition_by=["district_code"],
                                predicate=f"district_code = '{district}'")  # fmt: skip
            latencies.append(time.perf_counter() - t0)
        except Exception as exc:  # counted, not raised: the point is how often writers fail
            errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
            if os.environ.get("BENCH_STORAGE_TRACE"):
                traceback.print_exc()
    out.put((district, latencies, errors))


def create(layout: str, root: Path) -> None:
    """The table exists before the writers start, as it would in production (its first creation is one step)."""
    empty = frame(DISTRICTS[0], 0, 0)
    if layout == "duckdb-file":
        con = duckdb.connect(str(root / "w.duckdb"))
        arrow = empty.to_arrow()  # noqa: F841
        con.execute("CREATE TABLE v AS SELECT * FROM arrow")
        con.close()
    elif layout == "delta-overwrite":
        from deltalake import write_deltalake

        write_deltalake(str(root), empty.to_arrow(), mode="overwrite", partition_by=["district_code"])


def run_layout(layout: str, root: Path, writers: int, rows: int, commits: int) -> dict[str, object]:
    create(layout, root)
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    start_at = time.time() + 3.0  # every writer imports first, then they start together
    procs = [ctx.Process(target=_writer, args=(layout, str(root), d, rows, commits, start_at, queue))
             for d in DISTRICTS[:writers]]  # fmt: skip
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    wall = time.time() - start_at
    latencies = [x for _, lat, _ in results for x in lat]
    errors = [e for _, _, errs in results for e in errs]
    return {"wall": wall, "ok": len(latencies), "failed": len(errors), "errors": sorted(set(errors))[:3],
            "median": statistics.median(latencies) if latencies else float("nan"),
            "max": max(latencies) if latencies else float("nan")}  # fmt: skip


def read_speed(layout: str, root: Path) -> tuple[float, int]:
    """Seconds for DuckDB to count and group everything the writers left, and the row count."""
    con = duckdb.connect()
    t0 = time.perf_counter()
    if layout == "duckdb-file":
        con.execute(f"ATTACH '{root / 'w.duckdb'}' AS w (READ_ONLY)")
        source = "w.v"
    elif layout == "parquet-rename":
        source = f"read_parquet('{root}/*/part.parquet', hive_partitioning = true)"
    else:
        from deltalake import DeltaTable

        files = DeltaTable(str(root)).file_uris()  # the current version's files: what a view would list
        source = "read_parquet([" + ", ".join(f"'{f}'" for f in files) + "], hive_partitioning = true)"
    n = con.execute(f"SELECT count(*) FROM {source}").fetchall()[0][0]
    con.execute(
        f"SELECT district_code, form_code, count(*), count(DISTINCT value) FROM {source} GROUP BY ALL"
    ).fetchall()
    return time.perf_counter() - t0, n


def _ingest_worker(args: tuple[str, str, str]) -> float:
    """One district into the store, in a process of its own (what a district step does, minus Dagster)."""
    from assets.ingest import pipeline
    from assets.ingest.catalog import load_catalog
    from assets.ingest.parquet_store import DistrictStore
    from assets.reference.divisions import load_divisions

    landing, store, district = args
    t0 = time.perf_counter()
    ctx = pipeline.IngestContext.build(load_catalog(Path(landing)), load_divisions())
    pipeline.ingest_district_to_store(DistrictStore(store), Path(landing), district, ctx, f"bench-{district}")
    return time.perf_counter() - t0


def ingest_mode(landing: Path, n: int, processes: int) -> None:
    """Serial vs `processes` district writers on the built store, and the same rows either way."""
    from assets.ingest import store_views
    from assets.ingest.parquet_store import TABLES, DistrictStore

    districts = sorted(p.name for p in landing.iterdir() if p.is_dir() and p.name.isdigit())[:n]
    files = sum(1 for d in districts for p in (landing / d).rglob("*") if p.is_file())
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {len(districts)} districts, "
          f"{files:,} files of {landing}")  # fmt: skip
    root = Path(tempfile.mkdtemp(prefix="bench-storage-ingest-"))
    try:
        walls = {}
        for label, workers in (("serial", 1), (f"{processes} processes", processes)):
            store = root / label.replace(" ", "-") / "staging" / "ingest"
            jobs = [(str(landing), str(store), d) for d in districts]
            t0 = time.perf_counter()
            if workers == 1:
                for job in jobs:
                    _ingest_worker(job)
            else:
                with mp.get_context("spawn").Pool(workers) as pool:
                    pool.map(_ingest_worker, jobs, chunksize=1)
            walls[label] = time.perf_counter() - t0
            con = duckdb.connect(str(store.parent.parent / "jianfu.duckdb"))
            t1 = time.perf_counter()
            store_views.refresh_views(con, DistrictStore(store))
            refresh = time.perf_counter() - t1
            t1 = time.perf_counter()
            values = con.execute("SELECT count(*) FROM staging.form_values").fetchall()[0][0]
            con.execute(
                "SELECT district_code, form_code, count(*) FROM staging.form_values GROUP BY ALL"
            ).fetchall()
            read = time.perf_counter() - t1
            con.close()
            print(f"{label:<14} ingest wall {walls[label]:6.1f}s  views refresh {refresh:5.2f}s  "
                  f"read back {read:5.2f}s ({values:,} form values)", flush=True)  # fmt: skip
        con = duckdb.connect()
        con.execute(f"ATTACH '{root / 'serial' / 'jianfu.duckdb'}' AS a (READ_ONLY)")
        con.execute(f"ATTACH '{root / f'{processes}-processes' / 'jianfu.duckdb'}' AS b (READ_ONLY)")
        differ = 0
        for table, columns in TABLES.items():
            cols = ", ".join(c for c, _ in columns if c not in ("run_id", "ingested_at"))
            for x, y in (("a", "b"), ("b", "a")):
                differ += con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM {x}.{table} EXCEPT ALL "
                                      f"SELECT {cols} FROM {y}.{table})").fetchall()[0][0]  # fmt: skip
        con.close()
        serial, parallel = walls["serial"], walls[f"{processes} processes"]
        print(
            f"serial {serial:.1f}s vs {processes} processes {parallel:.1f}s: ×{serial / parallel:.2f}; "
            f"rows differing between the two stores: {differ}; load average {os.getloadavg()[0]:.1f} at the end"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--ingest",
        nargs="?",
        const=str(Path(__file__).resolve().parents[1] / "data" / "sample" / "landing"),
        help="measure the built store on this landing zone (default: the sample)",
    )
    parser.add_argument("--districts", type=int, default=8)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--writers", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--commits", type=int, default=3)
    parser.add_argument("--layouts", nargs="+", default=["duckdb-file", "parquet-rename", "delta-overwrite"])
    args = parser.parse_args()
    if args.ingest:
        return ingest_mode(Path(args.ingest), args.districts, args.processes)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {args.rows:,} rows per commit, "
          f"{args.commits} commits per writer")  # fmt: skip
    print(f"{'layout':<16} {'writers':>7} {'ok':>4} {'failed':>6} {'median s':>9} {'max s':>7} {'wall s':>7} "
          f"{'read s':>7} {'rows':>10}  errors")  # fmt: skip
    for writers in args.writers:
        for layout in args.layouts:
            root = Path(tempfile.mkdtemp(prefix=f"bench-storage-{layout}-"))
            try:
                r = run_layout(layout, root, writers, args.rows, args.commits)
                try:
                    seconds, n = read_speed(layout, root)
                except Exception as exc:
                    seconds, n = float("nan"), 0
                    r["errors"] = [*r["errors"], f"read: {exc}"]  # type: ignore[misc]
                print(f"{layout:<16} {writers:>7} {r['ok']:>4} {r['failed']:>6} {r['median']:>9.2f} {r['max']:>7.2f} "
                      f"{r['wall']:>7.1f} {seconds:>7.2f} {n:>10,}  {'; '.join(r['errors'])}", flush=True)  # type: ignore[arg-type]  # fmt: skip
            finally:
                shutil.rmtree(root, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    sys.exit(main())
