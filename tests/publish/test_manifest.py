"""The audit: keyed-hash chained JSONL with signed heads, its warehouse copy, and tampering of each kind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from assets.common import warehouse
from assets.publish import audit, manifest, query
from assets.publish.policy import Policy
from assets.publish.products import publish
from tests.publish.conftest import AUDIT_KEY, TEST_KEY, Published, audit_for, build_warehouse


def _record(wh: Path, out: Path, result) -> None:  # noqa: ANN001 — a PublishResult
    settings = audit_for(out)
    macs = manifest.write_jsonl_manifest(settings, result)
    with warehouse.connect(wh) as con:
        manifest.record_publication(con, result, settings, macs)


def test_manifest_rows_cover_every_product_table_and_column(published: Published, tmp_path: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    shutil.copy(published.warehouse, wh)
    _record(wh, tmp_path / "out", published.result)
    with warehouse.connect(wh, read_only=True) as con:
        rows = con.execute(
            "SELECT principal, table_name, row_count, product_sha256, policy_version, len(columns), entry_mac "
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
    assert all(r[5] > 0 and r[6] for r in rows)
    assert {"show", "partial", "keyed_hash", "by_element", "count"} <= {t[0] for t in treatments}
    assert run == [(len(published.result.products), True, True)]
    assert manifest.verify_all(audit_for(tmp_path / "out"), wh) == []


def test_audit_tables_are_appended_not_replaced(tmp_path: Path, policy: Policy) -> None:
    wh = build_warehouse(tmp_path / "wh.duckdb")
    out = tmp_path / "out"
    results = [publish(wh, out, policy, TEST_KEY) for _ in range(2)]
    for r in results:
        _record(wh, out, r)
    with warehouse.connect(wh, read_only=True) as con:
        runs = con.execute("SELECT run_id FROM audit.publication_runs").fetchall()
        per_run = con.execute("SELECT run_id, count(*) FROM audit.publication_manifest GROUP BY 1").fetchall()
        denial_runs = con.execute("SELECT DISTINCT run_id FROM publish.denials").fetchall()
    assert {r[0] for r in runs} == {r.run_id for r in results}
    assert len({n for _, n in per_run}) == 1 and len(per_run) == 2  # both runs kept, same shape
    assert denial_runs == [(results[1].run_id,)]  # the denials describe the products in place
    entries = audit.read(audit_for(out).manifest_path)
    assert [e["type"] for e in entries].count("run") == 2
    assert [e["type"] for e in entries].count("product") == 2 * len(results[0].products)
    assert manifest.verify_all(audit_for(out), wh) == []


def _chain(tmp_path: Path, n: int = 4) -> tuple[Path, Path]:
    path, heads = tmp_path / "_audit" / "log.jsonl", tmp_path / "heads"
    audit.append(path, heads, AUDIT_KEY, [{"n": i, "sql": f"SELECT {i}"} for i in range(n)])
    assert audit.verify(path, heads, AUDIT_KEY) == []
    return path, heads


def test_edit_with_recomputed_unkeyed_hashes_is_detected(tmp_path: Path) -> None:
    path, heads = _chain(tmp_path)
    lines = path.read_text(encoding="ascii").splitlines()
    forged = json.loads(lines[1])
    forged["sql"] = "SELECT 'innocent'"  # planted: an edit whose hash the attacker recomputes without the key
    forged["mac"] = audit.mac_of(b"attacker-guess-key-000000000000", forged)
    path.write_text("\n".join([lines[0], audit.canonical(forged), *lines[2:]]) + "\n", encoding="ascii")
    assert any("edited" in p for p in audit.verify(path, heads, AUDIT_KEY))


def test_removed_line_dropped_tail_and_deleted_file_are_detected(tmp_path: Path) -> None:
    path, heads = _chain(tmp_path)
    lines = path.read_text(encoding="ascii").splitlines()
    path.write_text("\n".join([lines[0], *lines[2:]]) + "\n", encoding="ascii")  # planted: a removed line
    assert any("removed" in p for p in audit.verify(path, heads, AUDIT_KEY))
    path.write_text("\n".join(lines[:2]) + "\n", encoding="ascii")  # planted: the last two lines dropped
    assert any("tail dropped" in p for p in audit.verify(path, heads, AUDIT_KEY))
    path.unlink()  # planted: the whole file deleted
    assert any("deleted" in p for p in audit.verify(path, heads, AUDIT_KEY))
    (heads / "log.jsonl.head").write_text('{"count": 0, "last_mac": "x", "mac": "y"}')  # planted: forged head
    assert any("signature" in p for p in audit.verify(path, heads, AUDIT_KEY))


def test_an_append_killed_before_its_head_is_adopted_but_a_keyless_tail_is_not(tmp_path: Path) -> None:
    """A publish killed after writing its entries but before signing the head (attack: random SIGKILL)
    must not leave the audit unverifiable forever; entries appended without the key still show."""
    path, heads = _chain(tmp_path)
    head_file = audit.head_path(heads, path)
    signed = head_file.read_bytes()
    audit.append(path, heads, AUDIT_KEY, [{"n": 4}, {"n": 5}])
    head_file.write_bytes(signed)  # planted: the kill landed between the fsync of the entries and the head
    assert audit.verify(path, heads, AUDIT_KEY) == []  # keyed entries that chain on: an interrupted append
    audit.append(path, heads, AUDIT_KEY, [{"n": 6}])  # the next run continues after them
    entries = audit.read(path)
    assert [e["seq"] for e in entries] == list(range(1, 8)) and audit.verify(path, heads, AUDIT_KEY) == []
    forged = {**entries[-1], "seq": 8, "prev_mac": entries[-1]["mac"], "mac": "0" * 64}
    with path.open("a", encoding="ascii") as fh:  # planted: an entry appended without the key
        fh.write(json.dumps(forged) + "\n")
    assert any("beyond the signed head" in p for p in audit.verify(path, heads, AUDIT_KEY))


def test_line_separators_do_not_break_the_chain(tmp_path: Path) -> None:
    path, heads = tmp_path / "q.jsonl", tmp_path / "heads"
    nasty = ["SELECT 1 -- \u2028 comment", "x\u2029y", "a\u0085b", "c\rd\ne", "姓名\x0b\x0c"]
    audit.append(path, heads, AUDIT_KEY, [{"sql": s} for s in nasty])
    audit.append(path, heads, AUDIT_KEY, [{"sql": "after"}])
    assert audit.verify(path, heads, AUDIT_KEY) == []
    assert len(path.read_bytes().splitlines()) == len(nasty) + 1  # one entry, one line, whatever it holds
    assert [e["sql"] for e in audit.read(path)] == [*nasty, "after"]


def test_warehouse_copy_delete_and_update_are_detected(published: Published, tmp_path: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    shutil.copy(published.warehouse, wh)
    out = tmp_path / "out"
    _record(wh, out, published.result)
    settings = audit_for(out)
    con = duckdb.connect(str(wh))
    con.execute(
        "DELETE FROM audit.publication_manifest WHERE table_name = 'persons'"
    )  # planted: rows deleted
    con.close()
    assert any("deleted" in p for p in manifest.verify_all(settings, wh))
    shutil.copy(published.warehouse, wh)
    _record(wh, out, published.result)
    con = duckdb.connect(str(wh))
    con.execute("UPDATE audit.publication_runs SET products = 0")  # planted: a run's figures rewritten
    con.close()
    assert any("updated" in p or "differs" in p for p in manifest.verify_all(settings, wh))


def test_failed_run_is_audited_without_products(tmp_path: Path, policy: Policy) -> None:
    wh = build_warehouse(tmp_path / "wh.duckdb")
    con = duckdb.connect(str(wh))
    con.execute("UPDATE staging.form_values SET header_label = '310101195001011234'")  # planted leak
    con.close()
    result = publish(wh, tmp_path / "out", policy, TEST_KEY)
    assert not result.swapped
    _record(wh, tmp_path / "out", result)
    with warehouse.connect(wh, read_only=True) as con:
        assert con.execute("SELECT swapped, leak_scan_passed FROM audit.publication_runs").fetchall() == [
            (False, False)
        ]
        assert con.execute("SELECT count(*) FROM audit.publication_manifest").fetchall() == [(0,)]


def test_query_log_sync_is_idempotent(published: Published, tmp_path: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    shutil.copy(published.warehouse, wh)
    settings = manifest.audit_settings(published.published, AUDIT_KEY, tmp_path / "heads")
    settings = manifest.AuditSettings(published.published, AUDIT_KEY, tmp_path / "heads")
    log = manifest.AuditSettings(tmp_path / "logs", AUDIT_KEY, tmp_path / "heads")

    def ask(principal: str, sql: str) -> str:
        return query.run_query(settings.published_dir, principal, sql, audit=log).status

    assert ask("district:310101", "SELECT 1") == "ok"
    assert ask("district:310101", "DROP TABLE forms") == "refused"
    with warehouse.connect(wh) as con:
        assert manifest.sync_query_log(con, log) == 3  # started + ok, refused (never started)
        assert manifest.sync_query_log(con, log) == 0
        assert ask("township:310101002", "SELECT 2") == "ok"
        assert manifest.sync_query_log(con, log) == 2
        statuses = con.execute("SELECT status FROM audit.query_log").fetchall()
    assert sorted(s for (s,) in statuses) == sorted(["started", "ok", "refused", "started", "ok"])
    assert audit.verify(log.query_log_path, log.heads_dir, AUDIT_KEY) == []


@pytest.mark.parametrize("key", [b"x" * 40])
def test_audit_key_must_verify(tmp_path: Path, key: bytes) -> None:
    path, heads = _chain(tmp_path)
    assert audit.verify(path, heads, key)  # another key: nothing verifies


def test_an_unkeyed_chain_of_an_older_version_is_archived_not_fatal(tmp_path: Path) -> None:
    path, heads = tmp_path / "_audit" / "log.jsonl", tmp_path / "heads"
    path.parent.mkdir()
    path.write_text('{"n": 1, "prev_sha256": "0", "entry_sha256": "x"}\n', encoding="utf-8")  # the old format
    assert audit.verify(path, heads, AUDIT_KEY) == []
    audit.append(path, heads, AUDIT_KEY, [{"n": 2}])
    assert [e["n"] for e in audit.read(path)] == [2]
    assert len(list(path.parent.glob("log.legacy-*.jsonl"))) == 1
    assert audit.verify(path, heads, AUDIT_KEY) == []


def test_rows_copied_before_the_keyed_chain_are_sealed(published: Published, tmp_path: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    shutil.copy(published.warehouse, wh)
    con = duckdb.connect(str(wh))
    con.execute("CREATE SCHEMA IF NOT EXISTS audit")
    con.execute("CREATE TABLE audit.query_log (query_id VARCHAR, queried_at TIMESTAMPTZ, os_user VARCHAR, "
                "principal VARCHAR, product VARCHAR, product_run_id VARCHAR, sql VARCHAR, status VARCHAR, "
                "row_count BIGINT, seconds DOUBLE, message VARCHAR)")  # fmt: skip
    con.execute("INSERT INTO audit.query_log VALUES ('q1', now(), 'u', 'district:310101', 'd', 'r', 'SELECT 1', "
                "'ok', 1, 0.1, '')")  # an older version's row: no chain entry  # fmt: skip
    con.close()
    _record(wh, tmp_path / "out", published.result)
    settings = audit_for(tmp_path / "out")
    assert manifest.verify_all(settings, wh) == []
    con = duckdb.connect(str(wh))
    con.execute(
        "UPDATE audit.query_log SET sql = 'SELECT 2' WHERE query_id = 'q1'"
    )  # planted: a legacy row edited
    con.close()
    assert any("before the keyed chain" in p for p in manifest.verify_all(settings, wh))


def test_chain_heads_table_is_anchored_in_the_chain(published: Published, tmp_path: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    for planted in ("DELETE FROM audit.chain_heads WHERE rowid = (SELECT max(rowid) FROM audit.chain_heads)",
                    "UPDATE audit.chain_heads SET chain = 'tampered' WHERE rowid = (SELECT min(rowid) FROM audit.chain_heads)"):  # fmt: skip
        shutil.copy(published.warehouse, wh)
        out = tmp_path / f"out{len(planted)}"
        _record(wh, out, published.result)
        assert manifest.verify_all(audit_for(out), wh) == []
        con = duckdb.connect(str(wh))
        con.execute(planted)
        con.close()
        assert any("anchor" in p for p in manifest.verify_all(audit_for(out), wh)), planted
