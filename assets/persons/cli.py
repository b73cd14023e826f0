"""`jianfu evaluate`: pairwise precision/recall/F1 and cluster measures against a ground truth.

Two inputs: a clusters file and a truth file (any data set, e.g. the output of `jianfu match`), or the
warehouse's core.person_records and the generator's ground_truth.parquet.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import polars as pl

from assets.common import paths, warehouse
from assets.matching.evaluate import evaluate_clusters, format_report
from assets.matching.io import read_table


def configure_evaluate(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Score entity resolution against ground truth (pairwise P/R/F1, B-cubed, exact clusters)."
    )
    parser.add_argument("--truth", required=True, help="ground truth (.parquet or .csv)")
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--clusters", help="predicted clusters file (e.g. from `jianfu match`)")
    src.add_argument(
        "--warehouse", default=None, help=f"DuckDB warehouse (default {paths.DEFAULT_WAREHOUSE})"
    )
    parser.add_argument(
        "--on",
        default=None,
        help="comma-separated key columns shared by both files (default: record_id, or "
        "source_file,row_number for the warehouse)",
    )
    parser.add_argument("--cluster-col", default="cluster_id", help="predicted cluster column")
    parser.add_argument("--truth-col", default="person_id", help="true entity column in the truth file")
    parser.add_argument("--json", dest="json_out", help="also write the metrics as JSON")


def run_evaluate(args: argparse.Namespace) -> int:
    try:
        truth = read_table(args.truth)
        if args.clusters:
            keys = (args.on or "record_id").split(",")
            predicted = read_table(args.clusters)
            cluster_col = args.cluster_col
        else:
            keys = (args.on or "source_file,row_number").split(",")
            wh = Path(args.warehouse or paths.DEFAULT_WAREHOUSE)
            # Read a copy: the pipeline may hold the write lock on the live file.
            with tempfile.TemporaryDirectory() as tmp:
                copy = Path(tmp) / "wh.duckdb"
                shutil.copy(wh, copy)
                with warehouse.connect(copy, read_only=True) as con:
                    predicted = warehouse.read_frame(con, "SELECT * FROM core.person_records")
            cluster_col = "person_id"
        casts = [pl.col(k).cast(pl.String) for k in keys]
        metrics = evaluate_clusters(
            predicted.with_columns(casts),
            truth.with_columns(casts),
            on=keys,
            predicted_col=cluster_col,
            truth_col=args.truth_col,
        )
    except (FileNotFoundError, ValueError, pl.exceptions.PolarsError) as err:
        print(f"jianfu evaluate: {err}", file=sys.stderr)
        return 2
    print(format_report(metrics))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    return 0
