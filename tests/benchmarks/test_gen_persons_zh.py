"""The outside Chinese resident generator (benchmarks/gen_persons_zh.py) and its error analysis
(benchmarks/zh_errors.py): seeded, truth kept apart, the planted difficulties really planted."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from gen_persons_zh import CHECK, ID_WEIGHTS, generate, write  # noqa: E402
from zh_errors import analyse  # noqa: E402


@pytest.fixture(scope="module")
def data() -> tuple[pl.DataFrame, pl.DataFrame]:
    return generate(6000, seed=3)


def _valid(num: str) -> bool:
    if len(num) != 18 or not num[:17].isdigit():
        return False
    return CHECK[sum(int(d) * w for d, w in zip(num[:17], ID_WEIGHTS, strict=True)) % 11] == num[17]


def test_seeded_sized_and_truth_apart(data, tmp_path) -> None:
    records, truth = data
    again, _ = generate(6000, seed=3)
    assert records.equals(again)
    assert not records.equals(generate(6000, seed=4)[0])
    assert records.height == truth.height == 6000
    assert records["record_id"].is_unique().all()
    assert "person_id" not in records.columns and "household_id" not in records.columns
    assert set(records["record_id"]) == set(truth["record_id"])
    files = write(records, truth, tmp_path, "both", per_source=True)
    assert {f.name for f in files} >= {
        "records.parquet",
        "records.csv",
        "truth.parquet",
        "公安.csv",
        "人社.csv",
    }
    # each system's export carries its own headers
    assert pl.read_csv(tmp_path / "公安.csv", infer_schema=False).columns[:3] == [
        "记录编号",
        "姓名",
        "公民身份号码",
    ]
    assert pl.read_csv(tmp_path / "人社.csv", infer_schema=False).columns[:3] == [
        "流水号",
        "姓名",
        "社会保障号码",
    ]


def test_every_planted_difficulty_occurs(data) -> None:
    tags = set(data[1]["tags"].str.split(",").explode()) | set(data[1]["ptags"].str.split(",").explode())
    for t in ("name_homophone", "name_lookalike", "name_traditional", "name_dot_variant", "id_15digit",
              "id_fullwidth", "id_typo_digit", "id_typo_transposed", "id_lower_x", "id_missing",
              "date_2digit_year", "moved", "phone_landline_no_area", "twin", "minority", "common_name"):  # fmt: skip
        assert t in tags, t


def test_clean_records_hold_one_valid_number_per_person(data) -> None:
    records, truth = data
    clean = records.join(truth, on="record_id").filter(pl.col("tags") == "")
    assert all(_valid(n) for n in clean["id_number"])
    per = clean.group_by("person_id").agg(pl.col("id_number").n_unique().alias("k"))
    assert per["k"].max() == 1
    owners = clean.group_by("id_number").agg(pl.col("person_id").n_unique().alias("k"))
    assert owners["k"].max() == 1


def test_twins_share_household_birth_and_surname_but_not_name_or_id(data) -> None:
    records, truth = data
    t = records.join(truth, on="record_id").filter(
        pl.col("ptags").str.contains("twin") & (pl.col("tags") == "")
    )
    pairs = t.join(t, on="household_id", suffix="_r").filter(pl.col("person_id") < pl.col("person_id_r"))
    assert pairs.height > 0
    assert (pairs["id_number"] != pairs["id_number_r"]).all()
    same_day = pairs.filter(pl.col("id_number").str.slice(6, 8) == pl.col("id_number_r").str.slice(6, 8))
    assert same_day.height > 0
    assert (same_day["name"] != same_day["name_r"]).all()
    # registered together: same area code, so their numbers are a few digits apart (they look like typos)
    assert (same_day["id_number"].str.slice(0, 6) == same_day["id_number_r"].str.slice(0, 6)).all()


def test_error_analysis_classes() -> None:
    ph = "000000000000000000"
    records = pl.DataFrame({
        "record_id": ["a", "b", "c", "d", "e", "f", "g"], "source": ["公安"] * 7,
        "name": ["张伟", "张玮", "张伟", "李娜", "李娜", "王芳", "王芳"],
        "id_number": ["110101199001011234", None, "110101198001011234", ph, ph, ph, "110101197001011234"],
        "sex": ["男"] * 7, "birth_date": ["1990-01-01"] * 7, "phone": [None] * 7, "address": [None] * 7,
    })  # fmt: skip
    truth = pl.DataFrame({
        "record_id": ["a", "b", "c", "d", "e", "f", "g"], "person_id": [1, 1, 2, 3, 4, 5, 6],
        "household_id": [1, 1, 2, 3, 4, 5, 6], "source": ["公安"] * 7,
        "tags": ["", "name_homophone,id_missing", "", "id_missing", "id_missing", "id_missing", ""],
        "ptags": [""] * 7,
    })  # fmt: skip
    # a+c: namesakes wrongly joined; d+e: one shared placeholder; f+g: joined in a cluster holding a
    # placeholder (f's), although their own numbers differ; a+b: one person split
    clusters = pl.DataFrame(
        {"record_id": ["a", "b", "c", "d", "e", "f", "g"], "cluster_id": ["x", "y", "x", "z", "z", "w", "w"]}
    )
    rep = analyse(records, truth, clusters, examples=2)
    classes = {c["cls"]: c["len"] for c in rep["false_merge_classes"]}
    assert classes == {
        "namesakes": 1,
        "same placeholder ID (000…/无)": 1,
        "chained through a placeholder-ID record": 1,
    }
    assert rep["missed_pairs"] == 1
    by_tag = {r["pair_tags"]: (r["true_pairs"], r["missed"]) for r in rep["miss_by_tag"]}
    assert by_tag["name_homophone"] == (1, 1)
