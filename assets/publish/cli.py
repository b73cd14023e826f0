"""`jianfu query`, `jianfu publish` and `jianfu audit verify` (wired by pipelines/cli.py).

query:        one read-only SELECT on that principal's product only; prints a table; every attempt is logged.
publish:      builds a generation outside Dagster (same code as the asset); prints counts, time, leak scan.
audit verify: checks the keyed-hash chains, their signed heads and the warehouse copy; exit 1 on any problem.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from assets.common import paths
from assets.publish import manifest, query
from assets.publish.audit import AuditError
from assets.publish.keys import MaskKeyError, resolve_audit_key
from assets.publish.types import TIER_BY_NAME, PolicyError, PublishError

# `jianfu query` imports only what a query needs (a Ctrl-C during a slow start-up is then rarely lost); the
# publishing modules (run, checks, polars for printing) are imported by the subcommands that use them.

DEFAULT_PUBLISHED = paths.WAREHOUSE_DIR / "published"


def _audit_from_env(published: Path, heads: Path | None) -> manifest.AuditSettings:
    env = os.environ
    key = resolve_audit_key(env.get("JIANFU_AUDIT_KEY") or None, env.get("JIANFU_ENV", ""))
    return manifest.audit_settings(published, key.key, heads)


def configure_query(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as", dest="principal", required=True,
                        help="principal TIER:CODE[/SUFFIX], TIER = city|district|township|committee (or 市|区|街镇|居村), "
                        "e.g. district:310101 or township:310101002")  # fmt: skip
    parser.add_argument("sql", help='one read-only SELECT, e.g. "SELECT count(*) FROM form_records"')
    parser.add_argument(
        "--published",
        type=Path,
        default=DEFAULT_PUBLISHED,
        help=f"products folder (default {DEFAULT_PUBLISHED})",
    )
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument("--max-rows", type=int, default=50, help="rows printed in table format (default 50)")
    parser.add_argument(
        "--timeout", type=float, default=query.DEFAULT_TIMEOUT, help="seconds before the query is interrupted"
    )
    parser.add_argument(
        "--memory-limit", default=query.DEFAULT_MEMORY, help="DuckDB memory limit of the query"
    )
    parser.add_argument(
        "--heads", type=Path, default=None, help="audit heads folder (default: beside the products folder)"
    )


def run_query(args: argparse.Namespace) -> int:
    """Exit code 0: ok; 1: failed, timed out or interrupted; 2: refused (not a read-only SELECT, wrong principal)."""
    try:
        audit = _audit_from_env(args.published, args.heads)
    except MaskKeyError as exc:
        print(f"error: {exc} (every query is logged in the keyed audit chain)", file=sys.stderr)
        return 2
    previous = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        outcome = query.run_query(args.published, args.principal, args.sql, env=dict(os.environ), audit=audit,
                                  timeout=args.timeout, memory_limit=args.memory_limit)  # fmt: skip
    except KeyboardInterrupt:
        print("interrupted: the query was stopped and logged", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    if outcome.status != "ok" or outcome.frame is None:
        print(f"{outcome.status}: {outcome.message}", file=sys.stderr)
        return 2 if outcome.status == "refused" else 1
    import polars as pl

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
    parser.add_argument("--tier", action="append", choices=sorted(TIER_BY_NAME),
                        help="rebuild only these tiers (repeatable; the others are carried over unchanged)")  # fmt: skip
    parser.add_argument("--no-warehouse-audit", action="store_true",
                        help="do not append the audit to the warehouse (the JSONL manifest is still written)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the run entry as JSON")


def run_publish(args: argparse.Namespace) -> int:
    """Exit code 0: published; 1: the leak scan failed (nothing replaced); 2: configuration or audit error."""
    from assets.publish import run

    try:
        settings = run.settings_from(dict(os.environ), args.warehouse, args.published)
        tiers = [TIER_BY_NAME[t] for t in args.tier] if args.tier else None
        result = run.publish_and_record(
            settings, tiers=tiers, write_warehouse_audit=not args.no_warehouse_audit
        )
    except (MaskKeyError, PolicyError, PublishError, AuditError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(manifest.run_entry(result), ensure_ascii=False, indent=2))
        return 0 if result.swapped else 1
    by_tier = ", ".join(f"{t} {n}" for t, n in sorted(result.counts_by_tier().items()))
    state = (
        f"published as generation {result.generation}"
        if result.swapped
        else "NOT published (previous products kept)"
    )
    print(
        f"{result.product_count} products {state}: {by_tier} ({result.carried} unchanged, kept as they were)"
    )
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


def configure_audit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action", choices=("verify",), help="verify: check the audit chains and the warehouse copy"
    )
    parser.add_argument(
        "--warehouse",
        type=Path,
        default=paths.DEFAULT_WAREHOUSE,
        help="warehouse whose audit tables are compared",
    )
    parser.add_argument(
        "--published", type=Path, default=None, help="products folder (default: beside the warehouse)"
    )
    parser.add_argument(
        "--heads", type=Path, default=None, help="signed heads folder (default: <warehouse dir>/audit_heads)"
    )


def run_audit(args: argparse.Namespace) -> int:
    """Exit code 0: intact; 1: a problem was found; 2: no audit key."""
    from assets.publish import checks, run

    published = args.published or run.default_published(args.warehouse)
    try:
        settings = _audit_from_env(published, args.heads)
    except MaskKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    problems = manifest.verify_all(settings, args.warehouse)
    gen_problems, n = checks.verify_generation(published)
    if n or (published / "current").exists():
        problems += gen_problems
    for chain in settings.chains():
        entries = sum(1 for _ in open(chain, encoding="ascii", errors="replace")) if chain.exists() else 0
        print(f"{chain}: {entries} entries")
    print(f"products of the current generation checked: {n}")
    if problems:
        print(f"audit verify FAILED: {len(problems)} problems")
        for p in problems:
            print(f"  {p}")
        return 1
    print("audit verify OK: chains intact, heads signed, warehouse copy matches, products as recorded")
    return 0
