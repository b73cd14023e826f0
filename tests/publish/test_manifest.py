"""The audit: append-only manifest in the warehouse and as hash-chained JSONL; the query log sync."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb

from assets.common import warehouse
from assets.publish import manifest, query
from assets.publish.policy import Policy
from assets.publish.products import publish
from tests.publish.conftest import TEST_KEY, Published, build_warehouse


def test_manifest_rows_cover_every_product_table_and_column(published: Published, tmp_path: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    shutil.copy(published.warehouse, wh)
    with warehouse.connect(wh) as con:
        manifest.record_publication(con, published.result)
        rows = con.execute(
            "SELECT principal, table_name, row_count, product_sha256, policy_version, len(columns) "
            "FROM audit.publication_manifest"
        ).fetchall()
        treatments = con.execute(
            "SELECT DISTINCT c.treatment FROM (SELECT unnest(columns) AS c FROM audit.publication_manifest)"
        ).fetchall()
        run = con.execute("SELECT products, swapped, leak_scan_passed FROM audit.publication_runs").fetchall()
    expected = {
        (p.principal.ref, t.table): (t.rows, p.sha256) for p in published.result.products for t in p.tables
    }
    assert {(r[0], r[1]): (r[2], r[3]) for r in rows} == expected
    assert {r[4] for r in rows} == {published.result.policy_version}
    assert all(r[5] > 0 for r in rows)
    assert {"show", "partial", "keyed_hash", "year_only", "by_element", "count"} <= {t[0] for t in treatments}
    assert run == [(len(published.result.products), True, True)]


def test_audit_tables_are_appended_not_replaced(tmp_path: Path, policy: Policy) -> None:
    wh = build_warehouse(tmp_path / "wh.duckdb")
    out = tmp_path / "out"
    results = [publish(wh, out, policy, TEST_KEY) for _ in range(2)]
    for r in results:
        manifest.write_jsonl_manifest(out, r)
        with warehouse.connect(wh) as con:
            manifest.record_publication(con, r)
    with warehouse.connect(wh, read_only=True) as con:
        runs = con.execute(
            "SELECT run_id FROM audit.publication_runs ORDER BY published_at, run_id"
        ).fetchall()
        per_run = con.execute("SELECT run_id, count(*) FROM audit.publication_manifest GROUP BY 1").fetchall()
        denial_runs = con.execute("SELECT DISTINCT run_id FROM publish.denials").fetchall()
    assert {r[0] for r in runs} == {r.run_id for r in results}
    assert len({n for _, n in per_run}) == 1 and len(per_run) == 2  # both runs kept, same shape
    assert denial_runs == [(results[1].run_id,)]  # the denials describe the products in place
    path = manifest.audit_dir(out) / manifest.MANIFEST_JSONL
    entries = manifest.read_jsonl(path)
    assert [e["type"] for e in entries].count("run") == 2
    assert [e["type"] for e in entries].count("product") == 2 * len(results[0].products)
    assert manifest.verify_chain(path) == []


def test_hash_chain_detects_edits_and_removals(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    manifest.append_jsonl(path, [{"n": i} for i in range(4)])
    assert manifest.verify_chain(path) == []
    lines = path.read_text(encoding="utf-8").splitlines()
    edited = json.loads(lines[1])
    edited["n"] = 99  # planted: an edited line
    path.write_text("\n".join([lines[0], json.dumps(edited), *lines[2:]]) + "\n", encoding="utf-8")
    assert any("edited" in p for p in manifest.verify_chain(path))
    path.write_text("\n".join([lines[0], *lines[2:]]) + "\n", encoding="utf-8")  # planted: a removed line
    assert any("removed" in p for p in manifest.verify_chain(path))


def test_failed_run_is_audited_without_products(tmp_path: Path, policy: Policy) -> None:
    wh = build_warehouse(tmp_path / "wh.duckdb")
    con = duckdb.connect(str(wh))
    con.execute("UPDATE staging.form_values SET header_label = '310101195001011234'")  # planted leak
    con.close()
    result = publish(wh, tmp_path / "out", policy, TEST_KEY)
    assert not result.swapped
    with warehouse.connect(wh) as con:
        manifest.record_publication(con, result)
        assert con.execute("SELECT swapped, leak_scan_passed FROM audit.publication_runs").fetchall() == [
            (False, False)
        ]
        assert con.execute("SELECT count(*) FROM audit.publication_manifest").fetchall() == [(0,)]


def test_query_log_sync_is_idempotent(published: Published, tmp_path: Path) -> None:
    out = tmp_path / "published"
    shutil.copytree(published.published, out)
    wh = tmp_path / "wh.duckdb"
    shutil.copy(published.warehouse, wh)
    query.run_query(out, "district:310101", "SELECT 1")
    query.run_query(out, "district:310101", "DROP TABLE forms")
    with warehouse.connect(wh) as con:
        assert manifest.sync_query_log(con, out) == 2
        assert manifest.sync_query_log(con, out) == 0
        query.run_query(out, "township:310101002", "SELECT 2")
        assert manifest.sync_query_log(con, out) == 1
        statuses = con.execute("SELECT status FROM audit.query_log ORDER BY queried_at").fetchall()
    assert statuses == [("ok",), ("refused",), ("ok",)]
