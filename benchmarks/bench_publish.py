"""Time to publish every product (build + leak scan + swap) on a given warehouse, and what was written.

    .venv/bin/python benchmarks/bench_publish.py [--warehouse warehouse/jianfu.duckdb] [--repeat 2]
        [--tier district --tier township] [--keep]

The warehouse is copied to a temporary folder first (so the pipeline's writer is never blocked and the
original is never touched); products go to that folder too. Uses the documented dev masking key unless
JIANFU_MASK_KEY is set. Nothing is written to the warehouse's audit tables. Figures, not assertions.
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

from assets.common import paths
from assets.publish import products
from assets.publish.masking import resolve_mask_key
from assets.publish.policy import TIER_BY_NAME, TIER_CODES, load_policy
from assets.publish.run import DICTIONARY, POLICY_DIR


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=paths.DEFAULT_WAREHOUSE)
    parser.add_argument("--repeat", type=int, default=2, help="runs (the first also pays the UDF warm-up)")
    parser.add_argument("--tier", action="append", choices=sorted(TIER_BY_NAME), help="only these tiers")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and print its path")
    args = parser.parse_args()

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
              f"{time.perf_counter() - t0:.1f}s; policy {policy.version[:12]}")  # fmt: skip
        out = tmp / "published"
        totals = []
        result = None
        for i in range(args.repeat):
            result = products.publish(wh, out, policy, key, tiers=tiers)
            totals.append(result.seconds)
            per = result.build_seconds / max(result.product_count, 1) * 1000
            print(f"run {i + 1}: {result.product_count} products in {result.seconds:.1f}s "
                  f"(build {result.build_seconds:.1f}s = {per:.0f} ms/product, leak scan {result.scan_seconds:.1f}s), "
                  f"swapped={result.swapped}")  # fmt: skip
        assert result is not None
        print(f"products by tier: {result.counts_by_tier()}")
        print(result.scan.summary())
        for tier, code in TIER_CODES.items():
            recs = [p for p in result.products if p.principal.tier is tier]
            if not recs:
                continue
            rows = [sum(t.rows for t in p.tables) for p in recs]
            size = [p.bytes for p in recs]
            print(f"  {code:<9} {len(recs):>4} files, rows/product median {statistics.median(rows):,.0f} "
                  f"max {max(rows):,}, size median {statistics.median(size) / 1e6:.1f} MB, "
                  f"total {sum(size) / 1e6:.0f} MB")  # fmt: skip
        print(f"median publish time {statistics.median(totals):.1f}s over {len(totals)} runs; "
              f"peak RSS {peak_rss_mb():.0f} MB")  # fmt: skip
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
