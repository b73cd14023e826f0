"""Publishing on a given warehouse: a full build, a run with nothing changed, and a run after one district's
rows changed; where the time goes, the fixed cost per product, and whether untouched products were rewritten.

    .venv/bin/python benchmarks/bench_publish.py [--warehouse warehouse/jianfu.duckdb] [--district 310101]
        [--tier district --tier township] [--keep] [--workers N] [--share 310101]

The warehouse is copied to a temporary folder first (so the pipeline's writer is never blocked and the
original is never touched); products go to that folder too. Uses the documented dev masking key unless
JIANFU_MASK_KEY is set. Nothing is written to the warehouse's audit tables. Figures, not assertions. CPU seconds
include the pool's workers (`JIANFU_PUBLISH_WORKERS`, `--workers`); the fixed cost per product is per job,
wherever it ran (with workers its wall time counts time shared with the other worker).

The one-district change rewrites `period` of every `staging.form_records` row of that district (a published
column: a real content change of its committees, townships, district and the city, and of nothing else).
The fixed cost per product is the intercept of a least-squares line of each written product's seconds
(plan + write + scan + checksum) against its rows; the slope is the cost per row.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from assets.common import paths
from assets.publish import checks, products
from assets.publish.masking import resolve_mask_key
from assets.publish.policy import TIER_BY_NAME, TIER_CODES, Tier, load_policy
from assets.publish.run import DICTIONARY, POLICY_DIR


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def files(out: Path) -> dict[str, tuple[int, int, int]]:
    """Visible products: (inode, size, mtime_ns)."""
    return {
        str(p.relative_to(out)): (p.stat().st_ino, p.stat().st_size, p.stat().st_mtime_ns)
        for p in products.product_files(out)
    }


def fixed_cost(result: products.PublishResult) -> tuple[float, float, int]:
    """(seconds per product at zero rows, seconds per million rows, products fitted) over written township and
    committee products: the many small products whose count grows with the city (a few city and district
    products of 0.5M+ rows would dominate the line and push its intercept below zero)."""
    small = (Tier.TOWNSHIP, Tier.COMMITTEE)
    pts = [(sum(t.rows for t in p.tables), p.seconds) for p in result.products
           if not p.carried and p.principal.tier in small]  # fmt: skip
    if len(pts) < 2:
        return float("nan"), float("nan"), len(pts)
    xs, ys = [x for x, _ in pts], [y for _, y in pts]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in pts) / var if var else 0.0
    return my - slope * mx, slope * 1e6, len(pts)


def change_district(con: duckdb.DuckDBPyConnection, district: str) -> int:
    """Append a space to `period` of the district's form records: a table is updated; a view (ingestion's
    Parquet store) is redefined over its old definition. Returns the rows changed."""
    n = int(con.execute("SELECT count(*) FROM staging.form_records WHERE starts_with(committee_code, ?)",
                        [district]).fetchall()[0][0])  # fmt: skip
    view = con.execute("SELECT sql FROM duckdb_views() WHERE schema_name = 'staging' "
                       "AND view_name = 'form_records'").fetchall()  # fmt: skip
    if not view:
        con.execute("UPDATE staging.form_records SET period = period || ' ' WHERE starts_with(committee_code, ?)",
                    [district])  # fmt: skip
        return n
    body = view[0][0].split(" AS ", 1)[1].rstrip().rstrip(";")
    lit = "'" + district.replace("'", "''") + "'"
    con.execute(f"CREATE OR REPLACE VIEW staging.form_records AS SELECT * REPLACE (CASE WHEN "
                f"starts_with(committee_code, {lit}) THEN period || ' ' ELSE period END AS period) FROM ({body})")  # fmt: skip
    return n


def restrict(share: list[str]) -> None:
    """Publish only the principals under these jurisdiction prefixes (a measured share of the city; the
    city product is included only if "31" is given)."""
    original = products.principals_for

    def principals(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        return [p for p in original(*args, **kwargs) if p.jurisdiction.startswith(tuple(share))]

    products.principals_for = principals


def children_cpu() -> float:
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ch.ru_utime + ch.ru_stime


def timed_publish(*args, **kwargs) -> tuple[products.PublishResult, float]:  # noqa: ANN002, ANN003
    """One run and its CPU seconds (this process and its pool's workers, every DuckDB thread): steadier than wall
    time on a shared box."""
    cpu, kids = time.process_time(), children_cpu()
    result = products.publish(*args, **kwargs)
    return result, time.process_time() - cpu + children_cpu() - kids


def show(name: str, result: products.PublishResult, load: tuple[float, float, float], cpu: float) -> None:
    written = result.product_count - result.carried
    phases = ", ".join(f"{k} {v:.1f}s" for k, v in sorted(result.phases.items(), key=lambda x: -x[1]))
    workers = os.environ.get("JIANFU_PUBLISH_WORKERS") or "default"
    print(f"{name}: {result.product_count} products in {result.seconds:.1f}s wall, {cpu:.1f}s CPU (workers {workers}; {written} written "
          f"and scanned, {result.pieced} of them from pieces, {result.carried} carried), swapped={result.swapped}; "
          f"load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}")  # fmt: skip
    print(f"   phases: {phases}")
    if written >= 2:
        a, b, n = fixed_cost(result)
        print(
            f"   fixed cost per written product {a * 1000:.0f} ms (+ {b:.2f}s per million rows; fitted on {n} "
            "township and committee products)"
        )
        per = ", ".join(f"{k} {result.phases[k] / written * 1000:.0f} ms" for k in ("plan", "write", "scan", "checksum")
                        if k in result.phases)  # fmt: skip
        print(f"   per written product (all sizes): {per}")
    if result.carried:
        print(f"   per carried product {result.phases.get('carry', 0) / result.carried * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=paths.DEFAULT_WAREHOUSE)
    parser.add_argument("--district", help="the district whose rows change (default: the first)")
    parser.add_argument("--tier", action="append", choices=sorted(TIER_BY_NAME), help="only these tiers")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and print its path")
    parser.add_argument("--share", action="append", help="only products under this jurisdiction prefix (repeat; "
                        "'31' adds the city): a measured share when the machine is busy")  # fmt: skip
    parser.add_argument("--workers", type=int, help="JIANFU_PUBLISH_WORKERS for these runs (1 = in process)")
    args = parser.parse_args()
    if args.workers:
        os.environ["JIANFU_PUBLISH_WORKERS"] = str(args.workers)
    if args.share:
        restrict(args.share)

    if not args.warehouse.exists():
        raise SystemExit(f"{args.warehouse} does not exist: run `jianfu run` first or pass --warehouse")
    policy = load_policy(POLICY_DIR, DICTIONARY)
    key = resolve_mask_key(os.environ.get("JIANFU_MASK_KEY"), os.environ.get("JIANFU_ENV") or "dev")
    tiers = [TIER_BY_NAME[t] for t in args.tier] if args.tier else None
    tmp = Path(tempfile.mkdtemp(prefix="bench_publish_"))
    try:
        wh = tmp / "jianfu.duckdb"
        t0 = time.perf_counter()
        shutil.copy(args.warehouse, wh)
        print(f"warehouse {args.warehouse} ({args.warehouse.stat().st_size / 1e6:.1f} MB) copied in "
              f"{time.perf_counter() - t0:.1f}s; policy {policy.version[:12]}; {os.cpu_count()} cores, shared")  # fmt: skip
        out = tmp / "published"
        full, cpu = timed_publish(wh, out, policy, key, tiers=tiers)
        show("full build", full, os.getloadavg(), cpu)
        print(f"   products by tier: {full.counts_by_tier()}")
        print("   " + full.scan.summary())
        for tier, code in TIER_CODES.items():
            recs = [p for p in full.products if p.principal.tier is tier]
            if recs:
                rows = [sum(t.rows for t in p.tables) for p in recs]
                secs = [p.seconds for p in recs]
                print(f"   {code:<9} {len(recs):>4} files, rows/product median {statistics.median(rows):,.0f} "
                      f"max {max(rows):,}, seconds/product median {statistics.median(secs):.2f} max {max(secs):.1f}, "
                      f"size total {sum(p.bytes for p in recs) / 1e6:.0f} MB")  # fmt: skip
        t = time.perf_counter()
        problems, n = checks.verify_generation(out)
        print(f"   blocking check: {n} products, {len(problems)} problems in {time.perf_counter() - t:.2f}s "
              "(recorded scans and a stat per product; nothing re-read)")  # fmt: skip

        before = files(out)
        same, cpu = timed_publish(wh, out, policy, key, tiers=tiers)
        show("nothing changed", same, os.getloadavg(), cpu)

        con = duckdb.connect(str(wh))
        try:
            district = args.district or (args.share[0][:6] if args.share else None) or con.execute(
                "SELECT min(left(committee_code, 6)) FROM staging.form_records").fetchall()[0][0]  # fmt: skip
            n_rows = change_district(con, district)
        finally:
            con.close()
        before = files(out)
        one, cpu = timed_publish(wh, out, policy, key, tiers=tiers)
        show(f"one district changed ({district}: {n_rows:,} rows)", one, os.getloadavg(), cpu)
        after = files(out)
        outside = [p for p in before if not Path(p).stem.startswith(district) and not p.startswith("city")]
        kept = sum(1 for p in outside if after.get(p) == before[p])
        inside = [p for p in before if p not in outside]
        print(f"   untouched jurisdictions: {kept} of {len(outside)} products kept inode, bytes and mtime; "
              f"the district and the city: {sum(1 for p in inside if after.get(p) != before[p])} of {len(inside)} rewritten")  # fmt: skip
        print(f"peak RSS {peak_rss_mb():.0f} MB")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
