"""Reading record files for `jianfu match`: encodings offices export, and what a missing column says."""

from __future__ import annotations

import argparse

import polars as pl
import pytest

from assets.matching.cli import configure_match, run_match
from assets.matching.io import read_table
from tests.matching.conftest import RESIDENT_SPEC

ROWS = "record_id,name\n1,张伟\n2,欧阳明辉\n"


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-16", "utf-8-sig", "utf-8"])
def test_csv_in_office_encodings_reads_the_same_text(tmp_path, encoding):
    path = tmp_path / "in.csv"
    path.write_bytes(
        ROWS.encode(encoding)
    )  # planted: GBK / UTF-16 bytes, which polars alone reads as mojibake
    frame = read_table(path, columns=["record_id", "name"])
    assert frame["name"].to_list() == ["张伟", "欧阳明辉"]


def test_missing_column_lists_the_files_own_columns(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(ROWS, encoding="utf-8")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['dob'\].*has: \['record_id', 'name'\]"):
        read_table(path, columns=["record_id", "name", "dob"])  # planted: no dob column
    pl.DataFrame({"record_id": ["1"], "name": ["x"]}).write_parquet(tmp_path / "in.parquet")
    with pytest.raises(ValueError, match=r"has: \['record_id', 'name'\]"):
        read_table(tmp_path / "in.parquet", columns=["record_id", "dob"])


def test_cli_missing_column_is_one_line_naming_the_files_columns(tmp_path, capsys):
    path = tmp_path / "thin.csv"
    path.write_text(
        "record_id,姓名\n1,张三\n", encoding="gbk"
    )  # planted: GBK, and none of the spec's columns
    parser = argparse.ArgumentParser()
    configure_match(parser)
    args = parser.parse_args(
        ["--spec", str(RESIDENT_SPEC), "--input", str(path), "--output", str(tmp_path / "o.csv")]
    )
    assert run_match(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lacks column" in err and "has: ['record_id', '姓名']" in err
