"""`jianfu match` and `jianfu evaluate` round trip on files."""

from __future__ import annotations

import argparse
import json

import polars as pl

from assets.matching.cli import configure_match, run_match
from assets.persons.cli import configure_evaluate, run_evaluate
from assets.persons.synthetic import generate_rows
from tests.matching.conftest import RESIDENT_SPEC


def parse(configure, argv):
    parser = argparse.ArgumentParser()
    configure(parser)
    return parser.parse_args(argv)


def test_match_then_evaluate_round_trip(tmp_path, capsys):
    rows = generate_rows(400, seed=2)
    rows.drop("person_id", "household_id", "noise").write_csv(tmp_path / "in.csv")
    rows.select("record_id", "person_id").write_parquet(tmp_path / "truth.parquet")
    out = tmp_path / "clusters.csv"
    args = ["--spec", str(RESIDENT_SPEC), "--input", str(tmp_path / "in.csv"), "--output", str(out),
            "--model-out", str(tmp_path / "model.json"), "--entities", str(tmp_path / "entities.parquet")]  # fmt: skip
    assert run_match(parse(configure_match, args)) == 0
    clusters = pl.read_csv(out, infer_schema=False)
    assert clusters.columns[:2] == ["record_id", "cluster_id"]
    assert clusters.height == rows.height
    assert json.loads((tmp_path / "model.json").read_text())["levels"]
    assert pl.read_parquet(tmp_path / "entities.parquet")["record_count"].sum() == rows.height

    code = run_evaluate(parse(configure_evaluate, ["--clusters", str(out), "--truth", str(tmp_path / "truth.parquet"),
                                                   "--json", str(tmp_path / "m.json")]))  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "pairwise_f1" in printed
    assert json.loads((tmp_path / "m.json").read_text())["pairwise_f1"] > 0.9

    # A second night: previous output + stored model -> incremental, ids carried.
    again = tmp_path / "again.csv"
    args2 = ["--spec", str(RESIDENT_SPEC), "--input", str(tmp_path / "in.csv"), "--output", str(again),
             "--previous", str(out), "--model-in", str(tmp_path / "model.json")]  # fmt: skip
    assert run_match(parse(configure_match, args2)) == 0
    assert "incremental" in capsys.readouterr().out
    same = pl.read_csv(again, infer_schema=False).join(clusters, on="record_id")
    assert (same["cluster_id"] == same["cluster_id_right"]).all()


def test_match_reports_bad_input(tmp_path, capsys):
    pl.DataFrame({"record_id": ["1"], "person_name": ["张三"]}).write_csv(tmp_path / "thin.csv")
    args = [
        "--spec",
        str(RESIDENT_SPEC),
        "--input",
        str(tmp_path / "thin.csv"),
        "--output",
        str(tmp_path / "o.csv"),
    ]
    assert run_match(parse(configure_match, args)) == 2
    assert "lacks column" in capsys.readouterr().err
