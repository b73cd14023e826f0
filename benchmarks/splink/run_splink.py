"""Deduplicate a person-rows Parquet file with Splink (DuckDB backend), configured as its tutorials do.

Run with the throwaway venv's python (see requirements.txt), never the project's:
    /tmp/splink-venv/bin/python benchmarks/splink/run_splink.py IN.parquet OUT.parquet \
        [--dataset residents|febrl|persons_en|persons_zh] [--threshold 0.9]
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


def residents(args):
    """The resident rows of the project's generator (Chinese civil data)."""
    columns = ("record_id, person_name, id_number, sex, birth_date, phone, household_address, "
               "residence_address, committee_code")  # fmt: skip
    comparisons = [
        cl.NameComparison("person_name").configure(term_frequency_adjustments=True),
        cl.LevenshteinAtThresholds("id_number", [1, 2]),
        cl.ExactMatch("sex"),
        cl.DateOfBirthComparison("birth_date", input_is_string=False),
        cl.LevenshteinAtThresholds("phone", [1]),
        cl.JaroWinklerAtThresholds("household_address", [0.95, 0.88]),
        cl.JaroWinklerAtThresholds("residence_address", [0.95, 0.88]),
        cl.ExactMatch("committee_code").configure(term_frequency_adjustments=True),
    ]
    blocking = [
        block_on("id_number"),
        block_on("person_name", "birth_date"),
        block_on("person_name", "phone"),
        block_on("person_name", "committee_code"),
        block_on("phone"),
        block_on("household_address", "substr(CAST(birth_date AS VARCHAR), 1, 7)"),
        block_on("residence_address", "substr(CAST(birth_date AS VARCHAR), 1, 7)"),
    ]
    deterministic = [block_on("id_number"), block_on("person_name", "birth_date", "phone")]
    em = [block_on("id_number"), block_on("person_name", "birth_date")]
    return columns, comparisons, blocking, deterministic, 0.7, em


def febrl(args):
    """FEBRL 3 / 4, configured as Splink's FEBRL examples do."""
    columns = ("rec_id AS record_id, given_name, surname, street_number, address_1, suburb, postcode, state, "
               "date_of_birth, soc_sec_id")  # fmt: skip
    comparisons = [
        cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("surname").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
        cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]),
        cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
        cl.JaroWinklerAtThresholds("address_1", [0.9]),
        cl.JaroWinklerAtThresholds("suburb", [0.9]),
        cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
    ]
    blocking = [
        block_on("soc_sec_id"),
        block_on("given_name", "surname"),
        block_on("date_of_birth"),
        block_on("surname", "postcode"),
        block_on("given_name", "postcode"),
        block_on("street_number", "address_1"),
    ]
    deterministic = [
        "l.soc_sec_id = r.soc_sec_id",
        "l.given_name = r.given_name and l.surname = r.surname and l.date_of_birth = r.date_of_birth",
    ]
    em = [block_on("date_of_birth"), block_on("postcode"), block_on("given_name", "surname")]
    return columns, comparisons, blocking, deterministic, 0.9, em


def persons_en(args):
    """English-style persons (benchmarks/gen_persons_en.py), as Splink's person tutorials configure them."""
    columns = "record_id, first_name, surname, dob, gender, address, town, postcode, phone, email"
    comparisons = [
        cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("surname").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison("dob", input_is_string=True),
        cl.ExactMatch("gender"),
        cl.LevenshteinAtThresholds("address", [2]),
        cl.ExactMatch("town").configure(term_frequency_adjustments=True),
        cl.PostcodeComparison("postcode"),
        cl.ExactMatch("phone"),
        cl.EmailComparison("email"),
    ]
    blocking = [
        block_on("surname", "dob"),
        block_on("first_name", "dob"),
        block_on("first_name", "surname"),
        block_on("postcode"),
        block_on("email"),
        block_on("phone"),
    ]
    deterministic = [
        "l.email = r.email",
        "l.first_name = r.first_name and l.surname = r.surname and l.dob = r.dob",
    ]
    # EM blocks on (first name, surname) and on dob alone are dominated by namesakes and by people born
    # on one day here: the EM there drifts to "same name" as the match class (dob exact m 0.04, one giant
    # cluster). These rules, like jianfu's spec, each give mostly matches.
    em = [block_on("surname", "dob"), block_on("first_name", "dob"), block_on("postcode")]
    return columns, comparisons, blocking, deterministic, 0.7, em


_FW = "translate({x}, '０１２３４５６７８９ＸｘＡ－　（）', '0123456789XxA- ()')"


def persons_zh(args):
    """Raw Chinese resident records of four systems (benchmarks/gen_persons_zh.py). Splink has no
    Chinese normalizers, so the cleaning a careful user writes in DuckDB SQL comes first: full-width
    digits, ID 15 -> first 17 digits, six date forms (two-digit years too), sex codes, phone prefixes,
    address prefixes (上海市 / district / 街道 or 镇) and 号楼 / 室 variants. No traditional -> simplified."""
    idc = "upper(regexp_replace(" + _FW.format(x="id_number") + r", '[\s\-]', '', 'g'))"
    id17 = (f"CASE WHEN regexp_full_match({idc}, '\\d{{15}}') THEN substr({idc}, 1, 6) || '19' || substr({idc}, 7, 9) "
            f"WHEN regexp_full_match({idc}, '\\d{{17}}[\\dX]') THEN substr({idc}, 1, 17) END")  # fmt: skip
    bd = _FW.format(x="birth_date")
    parsed = f"try_strptime({bd}, ['%Y-%m-%d', '%Y/%m/%d', '%Y%m%d', '%Y年%m月%d日', '%Y.%m.%d'])"
    short = f"try_strptime({bd}, '%y.%m.%d')"
    short = f"CASE WHEN year({short}) > 2025 THEN {short} - INTERVAL 100 YEAR ELSE {short} END"
    parsed = f"CASE WHEN regexp_matches({bd}, '^\\d{{2}}\\.') THEN {short} ELSE {parsed} END"
    dob = f"CAST(coalesce({parsed}, try_strptime(substr({id17}, 7, 8), '%Y%m%d')) AS DATE)"
    ph = "regexp_replace(" + _FW.format(x="phone") + r", '[^0-9]', '', 'g')"
    ph = f"regexp_replace({ph}, '^(0086|86)(1\\d{{10}})$', '\\2')"
    phone = f"CASE WHEN length({ph}) = 8 THEN '021' || {ph} WHEN {ph} ~ '^21\\d{{8}}$' THEN '0' || {ph} ELSE {ph} END"
    ad = "regexp_replace(" + _FW.format(x="address") + r", '\s', '', 'g')"
    ad = f"regexp_replace({ad}, '^(上海市|上海)?([^路街]{{1,4}}区)?([^路]{{2,6}}(街道|镇))?', '')"
    ad = f"regexp_replace(regexp_replace(regexp_replace({ad}, '号楼', '号'), '室$', ''), '(\\d+)-(\\d+)$', '\\1号\\2')"
    name = r"regexp_replace(regexp_replace(name, '[\s　]', '', 'g'), '[•・.．‧]', '·', 'g')"
    sex = (
        "CASE WHEN sex IN ('男', '男性', 'M', '1') THEN 'M' WHEN sex IN ('女', '女性', 'F', '2') THEN 'F' END"
    )
    columns = (f"record_id, nullif({name}, '') AS name, {id17} AS id17, {sex} AS sex, {dob} AS dob, "
               f"nullif({phone}, '') AS phone, nullif({ad}, '') AS address")  # fmt: skip
    comparisons = [
        cl.NameComparison("name").configure(term_frequency_adjustments=True),
        cl.LevenshteinAtThresholds("id17", [1, 2]),
        cl.ExactMatch("sex"),
        cl.DateOfBirthComparison("dob", input_is_string=False),
        cl.ExactMatch("phone"),
        cl.JaroWinklerAtThresholds("address", [0.95, 0.88]),
    ]
    blocking = [
        block_on("id17"),
        block_on("name", "dob"),
        block_on("name", "phone"),
        block_on("name", "address"),
        block_on("phone", "dob"),
        block_on("address", "dob"),
    ]
    deterministic = [block_on("id17"), block_on("name", "dob", "phone")]
    em = [block_on("id17"), block_on("name", "dob")]
    return columns, comparisons, blocking, deterministic, 0.8, em


DATASETS = {"residents": residents, "febrl": febrl, "persons_en": persons_en, "persons_zh": persons_zh}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="residents")
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--max-pairs-u", type=float, default=1e7)
    args = parser.parse_args()
    t0 = time.perf_counter()
    columns, comparisons, blocking, deterministic, recall, em = DATASETS[args.dataset](args)
    con = duckdb.connect()
    con.execute(f"CREATE TABLE people AS SELECT {columns} FROM read_parquet('{args.input}')")
    db_api = DuckDBAPI(connection=con)
    df = db_api.register("people")
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(df, settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=recall)
    linker.training.estimate_u_using_random_sampling(max_pairs=args.max_pairs_u, seed=1)
    for rule in em:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = linker.inference.predict(threshold_match_probability=0.2)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=args.threshold
    )
    con.execute(
        f"COPY (SELECT record_id, cluster_id FROM {clusters.physical_name}) TO '{args.output}' (FORMAT parquet)"
    )
    n_pred = con.execute(f"SELECT count(*) FROM {predictions.physical_name}").fetchall()[0][0]
    weights = linker.misc.save_model_to_json() if hasattr(linker, "misc") else {}
    print(json.dumps({"predictions": int(n_pred), "seconds": round(time.perf_counter() - t0, 2)}))
    table = []
    for comp in weights.get("comparisons", []):
        for lv in comp.get("comparison_levels", []):
            if lv.get("is_null_level"):
                continue
            m, u = lv.get("m_probability"), lv.get("u_probability")
            table.append(
                f"SPLINK_WEIGHT {comp.get('output_column_name')} | {lv.get('label_for_charts')} | {m} | {u}"
            )
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
