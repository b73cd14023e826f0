"""`jianfu forms-eval` (matching precision/recall on the labelled set) and `jianfu forms-summary`
(the one-table headline of an existing warehouse). Wired by the lead in pipelines/cli.py."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from assets.common import paths
from assets.common import warehouse as wh


def configure_forms_eval(parser: argparse.ArgumentParser) -> None:
    from synth.forms.evaluate import LABELLED_PATH

    parser.add_argument("--labelled", type=Path, default=LABELLED_PATH, help="labelled fields CSV")
    parser.add_argument("--misses", action="store_true", help="also list every wrong or missing mapping")


def run_forms_eval(args: argparse.Namespace) -> int:
    import polars as pl

    from assets.forms.dictionary import load_dictionary, load_matching_settings, load_overrides
    from synth.forms.evaluate import evaluate, evaluate_default, generator_catalog_labelled

    ev = evaluate_default(args.labelled)
    print(ev.summary())
    gen = generator_catalog_labelled()
    if gen is not None:
        dictionary = load_dictionary()
        gen_ev = evaluate(gen, dictionary, load_overrides(dictionary), load_matching_settings())
        print("generator catalog (labels only): " + gen_ev.summary().split(": ", 1)[1])
    if args.misses:
        for r in ev.results.filter(pl.col("predicted") != pl.col("true_element")).iter_rows(named=True):
            print(f"  {r['field_label']}: truth={r['true_element'] or '-'} got={r['predicted'] or '-'} "
                  f"({r['status']}, {r['method']} {r['confidence']:.2f})")  # fmt: skip
    return 0


def configure_forms_summary(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--warehouse", type=Path, default=paths.DEFAULT_WAREHOUSE)
    parser.add_argument("--json", action="store_true", help="print the headline as JSON")


def run_forms_summary(args: argparse.Namespace) -> int:
    from assets.forms.pipeline import format_headline, headline

    if not Path(args.warehouse).exists():
        print(f"no warehouse at {args.warehouse}")
        return 1
    with wh.connect(args.warehouse, read_only=True) as con:
        if not wh.table_exists(con, "marts.burden_by_committee"):
            print("the forms tables are not materialized yet")
            return 1
        h = headline(con)
    print(json.dumps(h, ensure_ascii=False, indent=2, default=str) if args.json else format_headline(h))
    return 0
