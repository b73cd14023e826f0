"""`jianfu match`: run the engine on any CSV/Parquet file with a spec, outside Dagster."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import polars as pl

from assets.matching.em import FSModel
from assets.matching.engine import InputError, MatchEngine
from assets.matching.io import read_table, write_table
from assets.matching.spec import SpecError, load_spec


def configure_match(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Resolve the records of FILE into entities with a match spec; writes record id -> cluster id "
        "(plus match probability, the matched record and the comparisons that agreed)."
    )
    parser.add_argument(
        "--spec", required=True, help="match spec YAML (e.g. schemas/matching/residents.yaml)"
    )
    parser.add_argument("--input", required=True, help="records, .csv or .parquet")
    parser.add_argument("--output", required=True, help="record_id -> cluster_id, .csv or .parquet")
    parser.add_argument("--previous", help="an earlier --output: carry its cluster ids forward")
    parser.add_argument(
        "--model-in",
        help="model JSON from an earlier --model-out: with --previous, "
        "compare only the new records (incremental)",
    )
    parser.add_argument("--model-out", help="write the fitted m/u model as JSON")
    parser.add_argument("--entities", help="write golden records per cluster (.csv or .parquet)")
    parser.add_argument("--history", help="write merges/splits/creations (.csv or .parquet)")
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: all cores)")
    parser.add_argument("--memory-limit", help="DuckDB memory limit, e.g. 4GB")


def run_match(args: argparse.Namespace) -> int:
    try:
        spec = load_spec(args.spec)
        previous = None
        if args.previous:
            prev = read_table(args.previous)
            previous = prev.select(
                pl.col("record_id").cast(pl.String), pl.col("cluster_id").alias("entity_id")
            )
        model = None
        if args.model_in:
            model = FSModel.from_dict(json.loads(Path(args.model_in).read_text(encoding="utf-8")))
        engine = MatchEngine(spec, threads=args.threads, memory_limit=args.memory_limit)
        try:
            # The frame is handed over (no reference kept here), so it is freed once the features exist.
            result = engine.resolve(
                read_table(args.input, columns=spec.input_columns()),
                previous,
                model,
                golden=bool(args.entities),
            )
        finally:
            engine.close()
    except (SpecError, InputError, FileNotFoundError, ValueError) as err:
        print(f"jianfu match: {err}", file=sys.stderr)
        return 2
    out = result.assignments.rename({"entity_id": "cluster_id"}).drop("is_new")
    if spec.record_id != "record_id":
        out = out.rename({"record_id": spec.record_id})
    write_table(out, args.output)
    if args.model_out:
        Path(args.model_out).write_text(json.dumps(result.model.to_dict(), indent=2), encoding="utf-8")
    if args.entities:
        write_table(result.entities.rename({"entity_id": "cluster_id"}), args.entities)
    if args.history:
        write_table(result.history, args.history)
    s = result.stats
    print(
        f"{s['records']:,} records -> {s['entities']:,} clusters "
        f"({s['candidate_pairs']:,} candidate pairs, {s['links_above_threshold']:,} links, "
        f"lambda {s['lambda']:.4f}, {'incremental' if s['incremental'] else 'full'}, "
        f"{s['seconds']['total']:.1f} s) -> {args.output}"
    )
    print("seconds by step: " + ", ".join(f"{k} {v}" for k, v in s["seconds"].items()))
    return 0
