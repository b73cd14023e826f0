"""`jianfu query --as`: only the principal's product, read-only, every attempt logged."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from assets.publish import cli, manifest, query
from tests.publish.conftest import PEOPLE, Published


@pytest.fixture()
def out(published: Published, tmp_path: Path) -> Path:
    """A private copy of the published folder, so the query log of one test does not leak into another."""
    target = tmp_path / "published"
    shutil.copytree(published.published, target)
    return target


def test_district_and_township_see_only_their_rows(out: Path) -> None:
    sql = "SELECT committee_code, count(*) AS n FROM form_records GROUP BY ALL ORDER BY ALL"
    for principal, prefix in (("district:310101", "310101"), ("township:310101002", "310101002")):
        outcome = query.run_query(out, principal, sql)
        assert outcome.status == "ok", outcome.message
        got = dict(outcome.frame.iter_rows()) if outcome.frame is not None else {}
        expected: dict[str, int] = {}
        for c, *_ in PEOPLE:
            if c and c.startswith(prefix):
                expected[c] = expected.get(c, 0) + 1
        assert got == expected
    # another jurisdiction's rows: nothing, because the product does not hold them
    other = query.run_query(
        out, "district:310101", "SELECT * FROM form_records WHERE committee_code LIKE '310104%'"
    )
    assert other.status == "ok" and other.frame is not None and other.frame.height == 0


@pytest.mark.parametrize(
    "sql",
    [
        "ATTACH 'warehouse/jianfu.duckdb' AS w",
        "COPY form_records TO '/tmp/x.csv'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SELECT 1; SELECT 2",
        "CREATE TABLE x AS SELECT 1",
        "DELETE FROM form_records",
        "SET enable_external_access = true",
        "PRAGMA database_list",
    ],
)
def test_non_select_statements_are_refused(out: Path, sql: str) -> None:
    outcome = query.run_query(out, "district:310101", sql)
    assert outcome.status == "refused", outcome.message


def test_file_access_from_a_select_fails(out: Path, published: Published) -> None:
    # read_text/read_csv would reach other files (the warehouse!): external access is disabled
    outcome = query.run_query(out, "district:310101", f"SELECT * FROM read_text('{published.warehouse}')")
    assert outcome.status == "error" and "disabled" in outcome.message


def test_keywords_inside_strings_are_fine(out: Path) -> None:
    outcome = query.run_query(
        out, "district:310101", "SELECT count(*) FROM form_records WHERE form_code <> 'COPY'"
    )
    assert outcome.status == "ok"


def test_unknown_or_malformed_principal(out: Path) -> None:
    assert query.run_query(out, "district:310199", "SELECT 1").status == "error"  # no product
    assert query.run_query(out, "county:310101", "SELECT 1").status == "error"


def test_every_query_is_logged_append_only(out: Path) -> None:
    query.run_query(out, "district:310101", "SELECT count(*) FROM form_records")
    query.run_query(out, "township:310101002", "COPY form_records TO 'x.csv'")
    log = manifest.read_jsonl(manifest.query_log_path(out))
    assert [(e["principal"], e["status"]) for e in log] == [
        ("district:310101", "ok"),
        ("township:310101002", "refused"),
    ]
    assert log[0]["product_run_id"] and log[0]["row_count"] == 1
    assert manifest.verify_chain(manifest.query_log_path(out)) == []


def test_cli_exit_codes_and_output(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    cli.configure_query(parser)
    args = parser.parse_args(
        ["--as", "township:310101002", "--published", str(out), "SELECT count(*) AS n FROM form_records"]
    )
    assert cli.run_query(args) == 0
    expected = sum(1 for c, *_ in PEOPLE if c and c.startswith("310101002"))
    printed = capsys.readouterr().out
    assert f"│ {expected} " in printed or f"| {expected} " in printed or f" {expected}\n" in printed
    refused = parser.parse_args(["--as", "district:310101", "--published", str(out), "INSTALL httpfs"])
    assert cli.run_query(refused) == 2
    failing = parser.parse_args(
        ["--as", "district:310101", "--published", str(out), "SELECT * FROM no_table"]
    )
    assert cli.run_query(failing) == 1
    csv_args = parser.parse_args(
        ["--as", "district:310101", "--published", str(out), "--format", "csv", "SELECT 1 AS one"]
    )
    assert cli.run_query(csv_args) == 0
    assert capsys.readouterr().out.splitlines()[-2:] == ["one", "1"]
