"""The exhaustive leak scan: clean products pass, every kind of planted leak is found, reports stay masked."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from assets.common import warehouse
from assets.publish import checks, manifest
from assets.publish.policy import Policy
from assets.publish.products import product_files, publish
from tests.publish.conftest import PEOPLE, TEST_KEY, Published, audit_for, build_warehouse


def test_clean_products_pass_the_scan(published: Published, policy: Policy) -> None:
    report = checks.scan_published(published.warehouse, published.published, policy)
    assert report.passed, report.findings
    assert report.products == len(published.result.products) == len(product_files(published.published))
    assert set(report.tokens) == {"id_number", "phone", "name"}
    # every source ID is a token: the two columns of form_records plus the guardian IDs typed in free fields
    assert report.tokens["id_number"] >= len(PEOPLE) * 2
    assert report.cells > 0


def test_a_new_unclassified_column_appears_nowhere(tmp_path: Path, policy: Policy) -> None:
    wh = build_warehouse(
        tmp_path / "wh.duckdb", extra_column=True
    )  # planted: staging.form_records.secret_note
    out = tmp_path / "out"
    result = publish(wh, out, policy, TEST_KEY)
    assert result.swapped and result.scan.passed
    for path in product_files(out):
        con = duckdb.connect(str(path), read_only=True)
        try:
            cols = con.execute("SELECT column_name FROM duckdb_columns()").fetchall()
            assert ("secret_note",) not in cols
            tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
            for table in tables:
                hit = con.execute(
                    f"SELECT count(*) FROM \"{table}\" AS t WHERE contains(CAST(t AS VARCHAR), 'UNCLASSIFIED-MARKER')"
                ).fetchall()
                assert hit == [(0,)], (path, table)
        finally:
            con.close()
    denied = {(d.tier, d.reason_code) for d in result.denials if d.column == "secret_note"}
    assert denied == {(t, "unclassified_column") for t in ("市", "区", "街镇", "居村")}


def _tampered(published: Published, tmp_path: Path, relpath: str, sql: list[str]) -> Path:
    """A published folder holding one copy of a product, modified by `sql`."""
    out = tmp_path / "tampered"
    target = out / relpath
    target.parent.mkdir(parents=True)
    shutil.copy(published.published / relpath, target)
    con = duckdb.connect(str(target))
    try:
        for stmt in sql:
            con.execute(stmt)
    finally:
        con.close()
    return out


TAMPERINGS = [
    # a row of another district
    ("district/310101.duckdb",
     ["INSERT INTO form_records (record_id, committee_code) VALUES ('x', '310104003001')"],
     "out_of_jurisdiction"),
    # a column nobody classified
    ("district/310101.duckdb", ["ALTER TABLE form_records ADD COLUMN secret_note VARCHAR"], "unexpected_column"),
    # a clear ID where the district must only see a keyed hash
    ("district/310101.duckdb",
     [f"UPDATE form_records SET id_number = '{PEOPLE[0][2]}' WHERE record_id = '{0:016x}'"], "clear_value"),
    # a phone number inside a label (an internal column shown to everyone)
    ("township/310101002.duckdb", [f"UPDATE form_values SET field_label = '电话{PEOPLE[1][3]}'"], "clear_value"),
    # a three-character name inside a file name (substring match)
    ("city/31.duckdb", [f"UPDATE form_records SET source_file = 'x/{PEOPLE[1][1]}的表.xlsx'"], "clear_value"),
    # a two-character name as a whole cell (exact match)
    ("city/31.duckdb", [f"UPDATE form_values SET header_label = '{PEOPLE[0][1]}'"], "clear_value"),
    # a small cell in an aggregate
    ("township/310101002.duckdb",
     ["INSERT INTO form_values_counts VALUES ('310101002', 'MZ01', '2026', 'disability_category', '视力残疾', 1)"],
     "small_cell"),
    # a table that is no dataset
    ("district/310101.duckdb", ["CREATE TABLE health AS SELECT 1 AS x"], "unexpected_table"),
    # rows of a 不予共享 element
    ("committee/310101002001.duckdb",
     ["INSERT INTO form_values (record_id, committee_code, element_code, value) "
      "VALUES ('x', '310101002001', 'health_condition', '高血压')"],
     "unexpected_element"),
    # a product claiming to be another principal's
    ("district/310101.duckdb", ["UPDATE _product SET principal = 'district:310104'"], "wrong_principal"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("relpath", "sql", "kind"), TAMPERINGS, ids=[t[2] + f"-{i}" for i, t in enumerate(TAMPERINGS)]
)
def test_planted_leaks_are_found(
    published: Published, policy: Policy, tmp_path: Path, relpath: str, sql: list[str], kind: str
) -> None:
    out = _tampered(published, tmp_path, relpath, sql)
    report = checks.scan_published(published.warehouse, out, policy)
    assert not report.passed
    assert kind in {f.kind for f in report.findings}, report.findings
    clear = [p[2] for p in PEOPLE] + [p[3] for p in PEOPLE] + [p[1] for p in PEOPLE]
    for f in report.findings:
        assert f.example is None or f.example not in clear  # the report never repeats a clear value


def test_deny_by_default_report(published: Published, policy: Policy, tmp_path: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    shutil.copy(published.warehouse, wh)
    settings = audit_for(tmp_path / "out")
    macs = manifest.write_jsonl_manifest(settings, published.result)
    with warehouse.connect(wh) as con:
        manifest.record_publication(con, published.result, settings, macs)
    violations, gaps, total = checks.deny_by_default_report(wh, published.published, policy)
    assert violations.height == 0, violations
    assert total > 0
    assert "golden_method" in set(gaps["column_name"].to_list())  # planted unclassified column: a policy gap
    # A silent drop: remove the denials of persons.golden_method; the report must notice.
    with warehouse.connect(wh) as con:
        con.execute("DELETE FROM publish.denials WHERE column_name = 'golden_method'")
    violations, _, _ = checks.deny_by_default_report(wh, published.published, policy)
    assert set(violations["column"].to_list()) == {"golden_method"}
    # A column present in a product but not described in its _columns table.
    out = _tampered(
        published, tmp_path, "district/310101.duckdb", ["ALTER TABLE forms ADD COLUMN extra VARCHAR"]
    )
    violations, _, _ = checks.deny_by_default_report(wh, out, policy)
    assert "extra" in set(violations["column"].to_list())


def test_a_phone_inside_an_id_shown_in_clear_is_not_a_leak() -> None:
    """At city scale some phone number is, by chance, a substring of some ID number shown in clear."""
    import duckdb

    from assets.publish.leakscan import TOKENS_TABLE, _clear_value_hits

    con = duckdb.connect()
    con.execute(f"CREATE TABLE {TOKENS_TABLE} (kind VARCHAR, token VARCHAR)")
    con.execute(
        f"INSERT INTO {TOKENS_TABLE} VALUES ('id_number', '310101151102102345'), ('phone', '15110210234')"
    )  # the phone's 11 digits sit inside the ID at offset 6
    con.execute("CREATE TABLE t AS SELECT '310101151102102345' AS id_number, '备注 15110210234' AS note")
    _, hits = _clear_value_hits(con, {("t", "id_number"): ("t", "'id_number'"), ("t", "note"): ("t", "NULL")})
    # the ID column may show the ID: the phone inside it is a coincidence; the note really leaks the phone
    assert [(col, kind) for col, kind, _, _ in hits] == [("t.note", "phone")]
