"""Publishing by jurisdiction: per-product input digests, decisions made on a product's own rows, and the
blocking check that trusts a product's recorded stat instead of reading it again."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from assets.publish import checks, inputs, plan, products, scope
from assets.publish.binding import BoundDataset
from assets.publish.masking import register_hmac
from assets.publish.policy import Policy, Principal, Tier
from assets.publish.products import publish
from tests.publish.conftest import TEST_KEY, build_warehouse

COLUMNS = [("record_id", "VARCHAR"), ("committee_code", "VARCHAR"), ("form_code", "VARCHAR"),
           ("period", "VARCHAR"), ("id_number", "VARCHAR"), ("id_birth_date", "DATE"), ("id_sex", "VARCHAR")]  # fmt: skip


def _records(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str, str]]) -> BoundDataset:
    """A form_records table of (committee, birth date, sex) rows, one person each, as `bind_datasets` stages it."""
    con.execute("CREATE OR REPLACE TABLE memory.main.fr (record_id VARCHAR, committee_code VARCHAR, "
                "form_code VARCHAR, period VARCHAR, id_number VARCHAR, id_birth_date DATE, id_sex VARCHAR)")  # fmt: skip
    for i, (committee, birth, sex) in enumerate(rows):
        con.execute("INSERT INTO memory.main.fr VALUES (?, ?, 'GA01', '2026-10', ?, ?, ?)",
                    [f"R{i:04d}", committee, f"ID{i:04d}", birth, sex])  # fmt: skip
    return BoundDataset(POLICY_DS["spec"], POLICY_DS["spec"].sources[0], COLUMNS, "memory.main.fr", len(rows))


POLICY_DS: dict[str, object] = {}


def _principal(policy: Policy, tier: Tier, code: str) -> Principal:
    """A principal of the shipped principal sets (its purpose decides what it sees)."""
    ps = next(p for p in policy.principal_sets if p.tier is tier and p.enabled)
    return Principal(tier=tier, jurisdiction=code, department=ps.department, purpose=ps.purpose)


def _steps(policy: Policy, rows: list[tuple[str, str, str]], principal: Principal) -> list[str]:
    """The k-anonymity steps `principal`'s product takes on these rows."""
    con = duckdb.connect()
    register_hmac(con, TEST_KEY.key)
    POLICY_DS["spec"] = policy.datasets["form_records"]
    b = _records(con, rows)
    stats = scope.Stats({b.name: b})
    decisions, _ = plan.resolve_profile(plan.Compiler(con, policy, [b], {}, stats), principal, 1)
    assert decisions is not None
    comp = plan.Compiler(
        con, policy, scope.scoped([b], principal.jurisdiction), {}, stats, principal.jurisdiction
    )
    tables, steps = plan.plan_principal(comp, principal, decisions, 1)
    assert tables
    return steps


def test_k_anonymity_is_decided_on_the_products_own_rows(policy: Policy) -> None:
    # district 310101: eight women born 1980 in one committee: k=5 holds at year precision
    a = [("310101002001", f"1980-0{m}-1{m}", "女") for m in range(1, 9)]
    # district 310104: one man born 1931 alone in his committee (planted: singles him out at any precision)
    b = [("310104003001", "1931-05-05", "男")]
    da = _principal(policy, Tier.DISTRICT, "310101")
    db = _principal(policy, Tier.DISTRICT, "310104")
    alone = _steps(policy, a, da)
    assert _steps(policy, a + b, da) == alone  # 310104's resident changes nothing in 310101's product
    assert not any("nullify" in s for s in alone)  # its dates stay (as years), its sex stays
    assert any("nullify" in s for s in _steps(policy, a + b, db))  # 310104 is generalized, on its own rows
    city = _steps(policy, a + b, _principal(policy, Tier.CITY, "31"))
    assert any("nullify" in s for s in city)  # the city sees both: the man must disappear there too


def test_input_digests_change_only_under_the_changed_prefix() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES ('310101002001', 'a'), ('310101002002', 'b'), "
                "('310104003001', 'c')) AS v(committee_code, x)")  # fmt: skip
    before = inputs._by_prefix(inputs._per_code(con, "t", "committee_code", ["committee_code", "x"]))
    con.execute("UPDATE t SET x = 'changed' WHERE committee_code = '310101002002'")
    after = inputs._by_prefix(inputs._per_code(con, "t", "committee_code", ["committee_code", "x"]))
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed == {"31", "310101", "310101002", "310101002002"}
    assert before["310101"][0] == 2 and before["31"][0] == 3


def test_blocking_check_reads_no_product_unless_its_stat_changed(
    tmp_path: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = build_warehouse(tmp_path / "wh.duckdb")
    out = tmp_path / "out"
    result = publish(wh, out, policy, TEST_KEY)
    read: list[Path] = []
    real = checks.sha256_file
    monkeypatch.setattr(checks, "sha256_file", lambda p: read.append(p) or real(p))
    assert checks.verify_generation(out) == ([], result.product_count)
    assert read == []  # nothing read: every product has the inode, size, mtime and ctime it was sealed with
    # planted: a product rewritten in place after its scan, its size and mtime put back (only ctime tells)
    target = out / "committee" / "310101002001.duckdb"
    st = target.stat()
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    problems, _ = checks.verify_generation(out)
    assert [p.split(":")[0] for p in problems] == ["committee/310101002001.duckdb"]
    assert read == [target]  # only the product whose ctime moved was read again
    assert products.product_files(out)


def _contents(path: Path) -> dict[str, list[tuple]]:
    """Every table of a product, rows sorted (the order of rows is not part of a product)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        return {t: sorted(con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)
                for t in tables if t != "_product"}  # fmt: skip
    finally:
        con.close()


def test_city_and_district_products_are_updated_from_pieces_equal_to_a_full_rebuild(
    tmp_path: Path, policy: Policy
) -> None:
    wh = build_warehouse(tmp_path / "wh.duckdb")
    out = tmp_path / "out"
    publish(wh, out, policy, TEST_KEY)
    con = duckdb.connect(str(wh))  # one committee's rows change (a published column)
    con.execute("UPDATE staging.form_records SET period = '2027' WHERE committee_code = '310104003001'")
    con.close()
    second = publish(wh, out, policy, TEST_KEY)
    pieced = {p.relpath for p in second.products if p.scan and "reused_rows" in p.scan}
    assert "city/31.duckdb" in pieced and second.pieced == len(pieced)
    assert all(p.scan and p.scan["reused_rows"] > 0 for p in second.products if p.relpath in pieced)
    fresh = publish(wh, tmp_path / "fresh", policy, TEST_KEY)  # the same warehouse, built from every row
    assert fresh.pieced == 0
    for rel in pieced:
        assert _contents(out / rel) == _contents(tmp_path / "fresh" / rel), rel
    assert checks.verify_generation(out) == ([], second.product_count)
