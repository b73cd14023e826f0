"""`jianfu match` and `jianfu evaluate` round trip on files."""

from __future__ import annotations

import argparse
import json

import polars as pl

from assets.matching.cli import configure_match, run_match
from assets.persons.cli import configure_evaluate, run_evaluate
from synth.persons import generate_rows
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


def _match(tmp_path, spec, data: str | bytes, capsys) -> tuple[int, str]:
    path = tmp_path / "in.csv"
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    args = ["--spec", str(spec), "--input", str(path), "--output", str(tmp_path / "o.csv")]
    code = run_match(parse(configure_match, args))
    return code, capsys.readouterr().err


def test_bad_files_give_one_line_and_exit_2(tmp_path, capsys):
    header = ",".join(["record_id", "person_name", "id_number", "sex", "birth_date", "birth_precision", "phone",
                       "household_address", "residence_address", "committee_code", "period_start"])  # fmt: skip
    code, err = _match(tmp_path, RESIDENT_SPEC, b"", capsys)  # planted: a 0-byte file
    assert code == 2 and "empty file" in err and err.count("\n") == 1
    code, err = _match(tmp_path, RESIDENT_SPEC, header + "\n", capsys)  # planted: header only
    assert code == 2 and "no records" in err and err.count("\n") == 1


def test_a_spec_typo_is_named_by_the_comparison(tmp_path, capsys):
    text = RESIDENT_SPEC.read_text(encoding="utf-8")
    broken = text.replace(
        "{kind: pinyin_equal}", "{kind: pinyin_equals}"
    )  # planted typo in comparison `name`
    assert broken != text
    spec = tmp_path / "broken.yaml"
    spec.write_text(broken, encoding="utf-8")
    code, err = _match(tmp_path, spec, "record_id\n1\n", capsys)
    assert code == 2 and err.count("\n") == 1
    assert "comparisons[name].levels.1.kind" in err


def test_help_imports_nothing_heavy():
    """`jianfu --help` / `jianfu match --help` must answer at once: no DuckDB, polars or Dagster import."""
    import subprocess
    import sys

    code = (
        "import sys, contextlib, io\n"
        "from pipelines.cli import main\n"
        "for argv in (['--help'], ['match', '--help']):\n"
        "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "        main(argv)\n"
        "heavy = [m for m in ('duckdb', 'polars', 'dagster', 'numpy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_closed_pipe_ends_quietly(tmp_path):
    """stdout is a pipe whose reader is gone before anything is written (`jianfu match ... | head`)."""
    import subprocess
    import sys

    rows = generate_rows(300, seed=3)
    rows.drop("person_id", "household_id", "noise").write_parquet(tmp_path / "in.parquet")
    argv = ["match", "--spec", str(RESIDENT_SPEC), "--input", str(tmp_path / "in.parquet"),
            "--output", str(tmp_path / "o.parquet"), "--explain"]  # fmt: skip
    code = (
        "import os, sys\n"
        "r, w = os.pipe(); os.close(r); os.dup2(w, 1)\n"  # planted: the reader has gone
        "from pipelines.cli import main\n"
        f"sys.exit(main({argv!r}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr
