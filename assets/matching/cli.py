"""`jianfu match`: run the engine on any CSV/Parquet file with a spec, outside Dagster.

Heavy modules (polars, DuckDB, the engine) are imported inside `run_match`, so `jianfu match --help`
answers at once. Every problem with the input or the spec ends in one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


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
        help="model JSON from an earlier --model-out: with --previous, compare only the new records "
        "(incremental); without, score with it instead of fitting",
    )
    parser.add_argument("--model-out", help="write the fitted m/u model as JSON")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print the fitted weights table (comparison x level: m, u, weight) and the model sanity report",
    )
    parser.add_argument("--entities", help="write golden records per cluster (.csv or .parquet)")
    parser.add_argument("--history", help="write merges/splits/creations (.csv or .parquet)")
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: all cores)")
    parser.add_argument("--memory-limit", help="DuckDB memory limit, e.g. 4GB")


def _one_line(err: BaseException) -> str:
    first, *rest = str(err).split("\n  - ")
    return " ".join(first.split()) + (": " + "; ".join(" ".join(r.split()) for r in rest) if rest else "")


def run_match(args: argparse.Namespace) -> int:
    import polars as pl

    from assets.matching.em import FSModel
    from assets.matching.engine import MatchEngine
    from assets.matching.io import read_table, write_table
    from assets.matching.load import InputError
    from assets.matching.sanity import ModelRefused
    from assets.matching.spec import SpecError, load_spec

    engine = None
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
            try:
                model = FSModel.from_dict(json.loads(Path(args.model_in).read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError) as err:
                raise InputError(f"{args.model_in}: not a model file ({err})") from None
        engine = MatchEngine(spec, threads=args.threads, memory_limit=args.memory_limit, env=os.environ)
        frame = read_table(args.input, columns=spec.input_columns())
        try:
            # The frame is handed over (no reference kept here), so it is freed once the features exist.
            result = engine.resolve(frame, previous, model, golden=bool(args.entities))
        except InputError as err:
            raise InputError(f"{args.input}: {err}") from None
    except ModelRefused as err:
        if args.explain and engine is not None:
            print(engine.explain())
        print(f"jianfu match: {_one_line(err)}", file=sys.stderr)
        return 2
    except (SpecError, InputError, FileNotFoundError, ValueError) as err:
        print(f"jianfu match: {_one_line(err)}", file=sys.stderr)
        return 2
    finally:
        if engine is not None:
            engine.close()
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
    if args.explain:
        print(result.explanation)
    s = result.stats
    print(
        f"{s['records']:,} records -> {s['entities']:,} clusters "
        f"({s['candidate_pairs']:,} candidate pairs, {s['links_above_threshold']:,} links, "
        f"lambda {s['lambda']:.4g}, {'incremental' if s['incremental'] else 'full'}, "
        f"{s['seconds']['total']:.1f} s) -> {args.output}"
    )
    print("seconds by step: " + ", ".join(f"{k} {v}" for k, v in s["seconds"].items()))
    print("CPU seconds by step: " + ", ".join(f"{k} {v}" for k, v in s["cpu_seconds"].items()))
    return 0
