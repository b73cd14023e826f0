"""`jianfu query --as`: only the principal's product, read-only, every attempt logged."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from assets.publish import audit, cli, query
from tests.publish.conftest import AUDIT_KEY, PEOPLE, Published, audit_for


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


ESCAPES = [
    "EXPLAIN ANALYZE SELECT 1",  # runs the statement it explains
    "EXPLAIN SELECT 1",
    "SELECT 1 -- it's a comment\n; COPY form_records TO '/tmp/x.csv'",  # a quote in a comment hid COPY before
    "/* ' */ COPY form_records TO '/tmp/jianfu-leak.csv'",
    "SELECT * FROM read_text('{wh}')",
    "SELECT * FROM read_csv('{wh}')",
    "SELECT * FROM glob('/tmp/*')",
    "SELECT * FROM read_parquet('/tmp/x.parquet')",
    "SELECT * FROM read_blob('{wh}')",
    "SELECT * FROM '{wh}'",  # a replacement scan of a file path
    "SELECT * FROM query('SELECT 1')",
    "SELECT getenv('HOME')",
    "SELECT current_setting('temp_directory')",
    "SELECT * FROM duckdb_settings()",
    "WITH x AS (SELECT * FROM read_text('{wh}')) SELECT * FROM x",
    "SELECT (SELECT count(*) FROM read_text('{wh}'))",
    "SELECT * FROM form_records, sqlite_scan('{wh}', 't')",
    "SELECT * FROM wh.main.persons",  # another catalog
    "SELECT 1 --\u2028COPY form_records TO '/tmp/jianfu-leak.csv'",  # a line separator: one comment to DuckDB
    "SELECT 1 --\u2029; COPY form_records TO '/tmp/jianfu-leak.csv'",
    "SELECT 'a\u200bb'",  # a zero-width character
]


@pytest.mark.parametrize("sql", ESCAPES)
def test_escapes_are_refused_by_the_parse_tree(out: Path, published: Published, sql: str) -> None:
    outcome = query.run_query(
        out, "district:310101", sql.format(wh=published.warehouse), audit=audit_for(out)
    )
    assert outcome.status == "refused", outcome.message
    assert not Path("/tmp/jianfu-leak.csv").exists()
    log = audit.read(audit_for(out).query_log_path)
    assert [e["status"] for e in log] == ["refused"]  # logged, never started


def test_a_long_query_is_interrupted_and_logged(out: Path) -> None:
    sql = "SELECT count(*) FROM range(10000000000) AS a(x) WHERE x % 7 = 3"
    outcome = query.run_query(out, "district:310101", sql, audit=audit_for(out), timeout=0.5)
    assert outcome.status == "timeout" and outcome.seconds < 10
    log = audit.read(audit_for(out).query_log_path)
    assert [e["status"] for e in log] == ["started", "timeout"]
    assert audit.verify(audit_for(out).query_log_path, audit_for(out).heads_dir, AUDIT_KEY) == []


def test_keywords_inside_strings_are_fine(out: Path) -> None:
    outcome = query.run_query(
        out, "district:310101", "SELECT count(*) FROM form_records WHERE form_code <> 'COPY'"
    )
    assert outcome.status == "ok"


def test_unknown_or_malformed_principal(out: Path) -> None:
    assert query.run_query(out, "district:310199", "SELECT 1").status == "error"  # no product
    assert query.run_query(out, "county:310101", "SELECT 1").status == "error"


def test_every_query_is_logged_append_only(out: Path) -> None:
    settings = audit_for(out)
    query.run_query(out, "district:310101", "SELECT count(*) FROM form_records", audit=settings)
    query.run_query(out, "township:310101002", "COPY form_records TO 'x.csv'", audit=settings)
    query.run_query(out, "township:310101002", "SELECT CAST('x' AS INTEGER)", audit=settings)
    log = audit.read(settings.query_log_path)
    assert [(e["principal"], e["status"]) for e in log] == [
        ("district:310101", "started"),
        ("district:310101", "ok"),
        ("township:310101002", "refused"),
        ("township:310101002", "started"),
        ("township:310101002", "error"),
    ]
    assert log[1]["product_run_id"] and log[1]["row_count"] == 1
    assert audit.verify(settings.query_log_path, settings.heads_dir, AUDIT_KEY) == []


def test_cli_exit_codes_and_output(
    out: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    parser = argparse.ArgumentParser()
    cli.configure_query(parser)
    args = parser.parse_args(["--as", "township:310101002", "--published", str(out), "SELECT 1"])
    assert cli.run_query(args) == 2  # no audit key and not dev: no query without its log
    monkeypatch.setenv("JIANFU_ENV", "dev")
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
        ["--as", "district:310101", "--published", str(out), "SELECT CAST('x' AS INTEGER)"]
    )
    assert cli.run_query(failing) == 1
    csv_args = parser.parse_args(
        ["--as", "district:310101", "--published", str(out), "--format", "csv", "SELECT 1 AS one"]
    )
    assert cli.run_query(csv_args) == 0
    assert capsys.readouterr().out.splitlines()[-2:] == ["one", "1"]
