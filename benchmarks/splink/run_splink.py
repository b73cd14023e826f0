"""Deduplicate a person-rows Parquet file with Splink (DuckDB backend), configured as its tutorials do.

Run with the throwaway venv's python (see requirements.txt), never the project's:
    /tmp/splink-venv/bin/python benchmarks/splink/run_splink.py IN.parquet OUT.parquet [--threshold 0.9]
Writes record_id -> cluster_id. The workflow follows Splink's deduplication tutorial: exploratory-free
settings with library comparisons and term-frequency adjustment on the name, prior from deterministic rules,
u by random sampling, m by EM over two blocking rules, predict, connected components at a threshold.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import duckdb
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--max-pairs-u", type=float, default=1e7)
    args = parser.parse_args()
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE people AS SELECT record_id, person_name, id_number, sex, birth_date, phone, "
        f"household_address, residence_address, committee_code FROM read_parquet('{args.input}')"
    )
    db_api = DuckDBAPI(connection=con)
    df = db_api.register("people")
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        comparisons=[
            cl.NameComparison("person_name").configure(term_frequency_adjustments=True),
            cl.LevenshteinAtThresholds("id_number", [1, 2]),
            cl.ExactMatch("sex"),
            cl.DateOfBirthComparison("birth_date", input_is_string=False),
            cl.LevenshteinAtThresholds("phone", [1]),
            cl.JaroWinklerAtThresholds("household_address", [0.95, 0.88]),
            cl.JaroWinklerAtThresholds("residence_address", [0.95, 0.88]),
            cl.ExactMatch("committee_code").configure(term_frequency_adjustments=True),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("id_number"),
            block_on("person_name", "birth_date"),
            block_on("person_name", "phone"),
            block_on("person_name", "committee_code"),
            block_on("phone"),
            block_on("household_address", "substr(CAST(birth_date AS VARCHAR), 1, 7)"),
            block_on("residence_address", "substr(CAST(birth_date AS VARCHAR), 1, 7)"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(df, settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("id_number"), block_on("person_name", "birth_date", "phone")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=args.max_pairs_u, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("id_number"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("person_name", "birth_date"))
    predictions = linker.inference.predict(threshold_match_probability=0.2)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=args.threshold
    )
    con.execute(
        f"COPY (SELECT record_id, cluster_id FROM {clusters.physical_name}) TO '{args.output}' (FORMAT parquet)"
    )
    n_pred = con.execute(f"SELECT count(*) FROM {predictions.physical_name}").fetchall()[0][0]
    print(json.dumps({"predictions": int(n_pred), "seconds": round(time.perf_counter() - t0, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
