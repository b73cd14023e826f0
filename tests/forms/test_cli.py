"""The forms subcommands, called directly."""

import argparse

from assets.common import warehouse
from assets.forms import cli, pipeline

from .toy_warehouse import build


def _args(configure, argv):
    parser = argparse.ArgumentParser()
    configure(parser)
    return parser.parse_args(argv)


def test_forms_eval_prints_precision_recall(capsys):
    assert cli.run_forms_eval(_args(cli.configure_forms_eval, ["--misses"])) == 0
    out = capsys.readouterr().out
    assert "precision" in out and "recall" in out


def test_forms_summary(tmp_path, capsys):
    path = build(tmp_path / "toy.duckdb")
    assert (
        cli.run_forms_summary(_args(cli.configure_forms_summary, ["--warehouse", str(path)])) == 1
    )  # not run yet
    with warehouse.connect(path) as con:
        pipeline.run_all(con)
    assert cli.run_forms_summary(_args(cli.configure_forms_summary, ["--warehouse", str(path)])) == 0
    assert "field-entries/month" in capsys.readouterr().out
