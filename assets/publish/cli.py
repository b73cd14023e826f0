"""`jianfu query --as PRINCIPAL "SQL"` and `jianfu publish` (wired by pipelines/cli.py).

query:   runs one read-only SELECT on that principal's product only, prints a table, logs the query.
publish: builds every product outside Dagster (same code as the asset), prints counts, time, leak scan.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import polars as pl

from assets.common import paths
from assets.publish import manifest, query, run
from assets.publish.masking import MaskKeyError
from assets.publish.policy import TIER_BY_NAME, PolicyError

DEFAULT_PUBLISHED = paths.WAREHOUSE_DIR / "published"


def configure_query(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--as",
        dest="principal",
        required=True,
        help="principal TIER:CODE[/SUFFIX], TIER = city|district|township|committee (or 市|区|街镇|居村), "
        "e.g. district:310101 or township:310101002",
    )
    parser.add_argument("sql", help='one read-only SELECT, e.g. "SELECT count(*) FROM form_records"')
    parser.add_argument(
        "--published",
        type=Path,
        default=DEFAULT_PUBLISHED,
        help=f"products folder (default {DEFAULT_PUBLISHED})",
    )
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument("--max-rows", type=int, default=50, help="rows printed in table format (default 50)")


def run_query(args: argparse.Namespace) -> int:
    """Exit code 0: ok; 1: the query failed; 2: refused (not a read-only SELECT, or wrong principal)."""
    outcome = query.run_query(args.published, args.principal, args.sql, env=dict(os.environ))
    if outcome.status != "ok" or outcome.frame is None:
        print(f"{outcome.status}: {outcome.message}", file=sys.stderr)
        return 2 if outcome.status == "refused" else 1
    frame = outcome.frame
    if args.format == "csv":
        sys.stdout.write(frame.write_csv())
    elif args.format == "json":
        sys.stdout.write(frame.write_json() + "\n")
    else:
        with pl.Config(tbl_rows=args.max_rows, tbl_cols=-1, fmt_str_lengths=60, tbl_width_chars=200):
            print(frame)
        print(
            f"{frame.height} rows from {outcome.product} ({outcome.seconds:.2f}s; logged as {outcome.query_id[:12]})"
        )
    return 0


def configure_publish(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--warehouse", type=Path, default=paths.DEFAULT_WAREHOUSE, help="warehouse to read (read-only)"
    )
    parser.add_argument(
        "--published", type=Path, default=None, help="products folder (default: beside the warehouse)"
    )
    parser.add_argument(
        "--tier",
        action="append",
        choices=sorted(TIER_BY_NAME),
        help="publish only these tiers (repeatable; default: every tier of schemas/policy/principals.yaml)",
    )
    parser.add_argument(
        "--no-warehouse-audit",
        action="store_true",
        help="do not append the audit to the warehouse (the JSONL manifest is still written)",
    )
    parser.add_argument("--json", action="store_true", help="print the run entry as JSON")


def run_publish(args: argparse.Namespace) -> int:
    """Exit code 0: published; 1: the leak scan failed (nothing replaced); 2: configuration error."""
    try:
        settings = run.settings_from(dict(os.environ), args.warehouse, args.published)
        tiers = [TIER_BY_NAME[t] for t in args.tier] if args.tier else None
        result = run.publish_and_record(
            settings, tiers=tiers, write_warehouse_audit=not args.no_warehouse_audit
        )
    except (MaskKeyError, PolicyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(manifest.run_entry(result), ensure_ascii=False, indent=2))
    else:
        by_tier = ", ".join(f"{t} {n}" for t, n in sorted(result.counts_by_tier().items()))
        state = "published" if result.swapped else "NOT published (previous products kept)"
        print(f"{result.product_count} products {state}: {by_tier}")
        print(
            f"time: {result.seconds:.1f}s (build {result.build_seconds:.1f}s, leak scan {result.scan_seconds:.1f}s)"
        )
        print(result.scan.summary())
        for f in result.scan.findings[:20]:
            print(f"  {f.product} {f.table}.{f.column}: {f.kind} — {f.detail} {f.example or ''}")
        codes: dict[str, int] = {}
        for d in result.denials:
            codes[d.reason_code] = codes.get(d.reason_code, 0) + 1
        print("denials: " + (", ".join(f"{k} {v}" for k, v in sorted(codes.items())) or "none"))
        if result.retired:
            print(f"retired: {', '.join(result.retired)}")
        print(f"policy {result.policy_version[:12]}, key {result.mask_key_fingerprint} ({result.mask_key_source}), "
              f"products in {settings.published_dir}")  # fmt: skip
    return 0 if result.swapped else 1
