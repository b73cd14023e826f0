"""Building products: principals, row filters, masks, aggregates, skipped datasets, atomic swap, retirement."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import duckdb
import pytest

from assets.publish import generation, products, writer
from assets.publish.policy import Policy, Tier
from assets.publish.products import publish
from tests.publish.conftest import PEOPLE, TEST_KEY, Published, build_warehouse


def _q(path: Path, sql: str, key: str | None = None) -> list[tuple]:
    con = duckdb.connect()
    opts = f"READ_ONLY, ENCRYPTION_KEY '{key}'" if key else "READ_ONLY"
    con.execute(f"ATTACH '{path}' AS p ({opts})")
    con.execute("USE p")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _all_text(path: Path) -> str:
    """Every cell of every table of a product, as one string (for 'appears nowhere' assertions)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        parts = []
        for (table,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall():
            parts.append(table)
            for row in con.execute(f'SELECT * FROM "{table}"').fetchall():
                parts.extend("" if v is None else str(v) for v in row)
            parts.extend(r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall())
        return "\n".join(parts)
    finally:
        con.close()


def test_every_present_district_and_township_gets_a_product(published: Published) -> None:
    refs = sorted(p.principal.ref for p in published.result.products)
    expected_committees = sorted({c for c, *_ in PEOPLE if c})
    assert refs == sorted(
        ["city:31"]
        + [f"district:{d}" for d in sorted({c[:6] for c in expected_committees})]
        + [f"township:{t}" for t in sorted({c[:9] for c in expected_committees})]
        + [f"committee:{c}" for c in expected_committees]
    )
    # 310104004 is in core.divisions but has no data: no product
    assert not (published.published / "township" / "310104004.duckdb").exists()
    for rec in published.result.products:
        assert rec.path.exists()
        assert hashlib.sha256(rec.path.read_bytes()).hexdigest() == rec.sha256
    assert not any((published.published / generation.BUILDING).iterdir())


def test_rows_are_filtered_by_jurisdiction(published: Published) -> None:
    for rec in published.result.products:
        prefix = rec.principal.jurisdiction
        for table in ("form_records", "form_values", "persons", "person_records", "divisions"):
            outside = _q(
                rec.path, f"SELECT count(*) FROM {table} WHERE NOT starts_with(committee_code, '{prefix}')"
            )
            assert outside == [(0,)], (rec.relpath, table)
        register = sum(1 for c, *_ in PEOPLE if c and c.startswith(prefix))
        roster = sum(1 for c, *_, dis in PEOPLE if c and c.startswith(prefix) and dis)
        # rows of the disability roster MZ01 are sensitive: only the committee (data return) receives them
        expected = register + (roster if rec.principal.tier is Tier.COMMITTEE else 0)
        assert _q(rec.path, "SELECT count(*) FROM form_records") == [(expected,)], rec.relpath
        forms = {f for (f,) in _q(rec.path, "SELECT DISTINCT form_code FROM form_values")}
        assert ("MZ01" in forms) == (rec.principal.tier is Tier.COMMITTEE and roster > 0)


def test_unresolved_committee_rows_reach_no_product(published: Published) -> None:
    orphan = next(p for p in PEOPLE if p[0] is None)  # planted: committee_code NULL
    for rec in published.result.products:
        text = _all_text(rec.path)
        assert orphan[2] not in text and orphan[1] not in text
    codes = {d.reason_code for d in published.result.denials}
    assert "no_jurisdiction" in codes


def test_district_product_masks(tmp_path: Path, policy_no_k: Policy) -> None:
    wh = build_warehouse(tmp_path / "wh.duckdb")
    publish(wh, tmp_path / "out", policy_no_k, TEST_KEY)
    path = tmp_path / "out" / "district" / "310101.duckdb"
    rows = _q(path, "SELECT person_name, id_number, id_birth_date FROM form_records ORDER BY record_id")
    src = [p for p in PEOPLE if p[0] and p[0].startswith("310101")]
    for (name, idn, birth), person in zip(rows, src, strict=True):
        assert name == person[1][0] + "*" * (len(person[1]) - 1)
        assert idn == hmac.new(TEST_KEY.key, person[2].encode(), hashlib.sha256).hexdigest()
        assert birth == person[2][6:10]
    phones = _q(path, "SELECT value FROM form_values WHERE element_code = 'phone' ORDER BY record_id")
    assert [p[0] for p in phones] == [p[3][:3] + "****" + p[3][-4:] for p in src]


def test_k_anonymity_generalizes_quasi_identifiers(published: Published) -> None:
    """12 residents in 4 committees: no combination of committee, sex and birth band covers 5 persons, so the
    products above the committee keep the committee and hide the rest; a township still sees names in clear
    (identified data by purpose: names are its identity, not quasi-identifiers), the committee everything."""
    district = published.published / "district" / "310101.duckdb"
    assert _q(
        district, "SELECT count(person_name), count(id_birth_date), count(id_sex) FROM form_records"
    ) == [(0, 0, 0)]
    reasons = {r for (r,) in _q(district, "SELECT reason FROM _columns WHERE column_name = 'id_birth_date'")}
    assert any("k-anonymity" in r for r in reasons)
    township = published.published / "township" / "310101002.duckdb"
    assert _q(township, "SELECT count(id_birth_date), count(id_sex) FROM form_records") == [(0, 0)]
    assert ("张伟",) in _q(township, "SELECT person_name FROM form_records")
    committee = published.published / "committee" / "310101002001.duckdb"
    assert _q(committee, "SELECT count(*) = count(id_birth_date) FROM form_records") == [(True,)]
    codes = {(d.tier, d.reason_code) for d in published.result.denials}
    assert {("区", "k_anonymity"), ("街镇", "k_anonymity")} <= codes and ("居村", "k_anonymity") not in codes


def test_keyed_hash_joins_across_products(published: Published) -> None:
    city = _q(
        published.published / "city" / "31.duckdb",
        "SELECT id_number FROM persons WHERE committee_code = '310101002001'",
    )
    district = _q(
        published.published / "district" / "310101.duckdb",
        "SELECT id_number FROM persons WHERE committee_code = '310101002001'",
    )
    assert sorted(city) == sorted(district) and len(city) == sum(1 for c, *_ in PEOPLE if c == "310101002001")


def test_city_never_gets_names_and_committee_gets_clear_values(published: Published) -> None:
    city = published.published / "city" / "31.duckdb"
    assert "person_name" not in {r[0] for r in _q(city, "DESCRIBE form_records")}
    assert _q(
        city, "SELECT count(*) FROM form_values WHERE element_code IN ('person_name', 'residence_address')"
    ) == [(0,)]
    assert _q(city, "SELECT count(*), count(value) FROM form_values WHERE element_code = 'phone'") == [
        (sum(1 for c, *_ in PEOPLE if c), 0)
    ]  # nullify (one GA01 row per resident; the MZ01 roster is not in the city's rows)
    committee = published.published / "committee" / "310101002001.duckdb"
    assert ("张伟", "310101195001011234") in _q(committee, "SELECT person_name, id_number FROM form_records")


def test_not_shared_and_unclassified_values_are_nowhere(published: Published) -> None:
    for rec in published.result.products:
        text = _all_text(rec.path)
        assert "高血压" not in text  # health_condition is 不予共享
        assert "health_condition" not in text
        assert "310115198001010000" not in text  # planted guardian ID (field without element)
        assert "请联系" not in text  # planted free-text remark (field without element)
        assert "golden_method" not in text  # planted unclassified column of core.persons


def test_aggregates_suppress_small_cells(published: Published, policy: Policy) -> None:
    township = published.published / "township" / "310101002.duckdb"
    rows = _q(township, "SELECT jurisdiction_code, value, n FROM form_values_counts "
                        "WHERE element_code = 'disability_category'")  # fmt: skip
    # 视力残疾 (1 person) is below 5: suppressed; 肢体残疾 (6) too, or the roster's 7 rows (a shown margin, in
    # form_records_counts) minus 6 would give the 1 back (complementary suppression)
    assert rows == []
    assert _q(township, "SELECT n FROM form_records_counts WHERE form_code = 'MZ01'") == [(7,)]
    assert _q(township, "SELECT count(*) FROM form_values WHERE element_code = 'disability_category'") == [
        (0,)
    ]
    # identifier-like elements never group counts (nor are they counted: the roster's size is in form_records_counts)
    assert _q(township, "SELECT count(*) FROM form_values_counts WHERE element_code IN ('person_name', "
                        "'citizen_id', 'phone', 'residence_address')") == [(0,)]  # fmt: skip
    table = next(t for r in published.result.products if r.principal.ref == "township:310101002"
                 for t in r.tables if t.table == "form_values_counts")  # fmt: skip
    assert table.suppressed_cells >= 1
    for rec in published.result.products:
        for (table_name,) in _q(
            rec.path, "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '%_counts'"
        ):
            assert _q(rec.path, f"SELECT count(*) FROM {table_name} WHERE n < {policy.min_cell}") == [(0,)]


def test_missing_sources_are_skipped_not_errors(tmp_path: Path, policy: Policy) -> None:
    # persons and the forms engineer's catalog.form_fields have not landed yet
    wh = build_warehouse(tmp_path / "wh.duckdb", with_persons=False, with_form_fields=False)
    result = publish(wh, tmp_path / "out", policy, TEST_KEY)
    assert result.swapped
    skipped = {d.dataset for d in result.denials if d.reason_code == "source_missing"}
    assert {"persons", "person_records"} <= skipped  # (and the marts the fixture does not build)
    assert not skipped & {"form_records", "form_values", "divisions", "forms", "burden_by_township"}
    district = tmp_path / "out" / "district" / "310101.duckdb"
    assert "persons" not in {r[0] for r in _q(district, "SELECT table_name FROM duckdb_tables()")}
    # form_values fell back to the source without catalog.form_fields: 残疾类别 has no element there
    counted = {e for (e,) in _q(district, "SELECT DISTINCT element_code FROM form_values_counts")}
    assert "disability_category" not in counted
    assert "disability_category" not in {
        e for (e,) in _q(district, "SELECT DISTINCT element_code FROM form_values")
    }


def test_failed_scan_keeps_the_previous_products(tmp_path: Path, policy: Policy) -> None:
    wh = build_warehouse(tmp_path / "wh.duckdb")
    out = tmp_path / "out"
    first = publish(wh, out, policy, TEST_KEY)
    before = {p.relpath: p.sha256 for p in first.products}
    con = duckdb.connect(str(wh))
    # Planted leak: a delivered header that holds an ID number, in a column classified internal (shown).
    con.execute(
        "UPDATE staging.form_values SET header_label = '身份证310101195001011234' WHERE field_order = 1"
    )
    con.close()
    second = publish(wh, out, policy, TEST_KEY)
    assert not second.swapped
    assert {f.kind for f in second.scan.findings} == {"clear_value"}
    assert all("310101195001011234" not in (f.example or "") for f in second.scan.findings)  # masked examples
    after = {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in products.product_files(out)
    }
    assert after == before
    assert not any((out / generation.BUILDING).iterdir())


def test_crash_mid_run_leaves_complete_products(
    tmp_path: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = build_warehouse(tmp_path / "wh.duckdb")
    out = tmp_path / "out"
    first = publish(wh, out, policy, TEST_KEY)
    before = {p.relpath: p.sha256 for p in first.products}
    real = writer.write_product
    calls = {"n": 0}

    def crash_on_third(*args, **kwargs):  # noqa: ANN002, ANN003
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real(*args, **kwargs)

    con = duckdb.connect(str(wh))  # new data: every product is rewritten (none can be carried over)
    con.execute("UPDATE staging.form_records SET period = '2027'")
    con.close()
    monkeypatch.setattr(writer, "write_product", crash_on_third)
    with pytest.raises(OSError):
        publish(wh, out, policy, TEST_KEY)
    after = {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in products.product_files(out)
    }
    assert after == before
    assert any((out / generation.BUILDING).iterdir())  # the crash left a half-built generation, invisible
    monkeypatch.setattr(writer, "write_product", real)
    publish(wh, out, policy, TEST_KEY)
    assert not any((out / generation.BUILDING).iterdir())  # the next run cleans the crash's leftovers


def test_reader_keeps_reading_while_a_product_is_replaced(tmp_path: Path, policy: Policy) -> None:
    wh = build_warehouse(tmp_path / "wh.duckdb")
    out = tmp_path / "out"
    publish(wh, out, policy, TEST_KEY)
    reader = duckdb.connect(str(out / "district" / "310101.duckdb"), read_only=True)
    n_before = reader.execute("SELECT count(*) FROM form_records").fetchall()
    con = duckdb.connect(str(wh))
    con.execute("DELETE FROM staging.form_records WHERE committee_code = '310101013001'")
    con.close()
    publish(wh, out, policy, TEST_KEY)
    assert (
        reader.execute("SELECT count(*) FROM form_records").fetchall() == n_before
    )  # old file still readable
    reader.close()
    assert _q(out / "district" / "310101.duckdb", "SELECT count(*) FROM form_records") == [
        (n_before[0][0] - 1,)
    ]


def test_products_of_principals_without_data_are_retired(tmp_path: Path, policy: Policy) -> None:
    wh = build_warehouse(tmp_path / "wh.duckdb")
    out = tmp_path / "out"
    publish(wh, out, policy, TEST_KEY)
    assert (out / "township" / "310101013.duckdb").exists()
    con = duckdb.connect(str(wh))
    con.execute("DELETE FROM staging.form_records WHERE committee_code = '310101013001'")
    con.execute("DELETE FROM core.persons WHERE committee_code = '310101013001'")
    con.close()
    result = publish(wh, out, policy, TEST_KEY)
    assert "township/310101013.duckdb" in result.retired
    assert not (out / "township" / "310101013.duckdb").exists()
    assert not (out / "committee" / "310101013001.duckdb").exists()


def test_tier_filter_publishes_and_retires_only_that_tier(tmp_path: Path, policy: Policy) -> None:
    wh = build_warehouse(tmp_path / "wh.duckdb")
    out = tmp_path / "out"
    publish(wh, out, policy, TEST_KEY)
    con = duckdb.connect(str(wh))
    con.execute("UPDATE staging.form_records SET period = '2027' WHERE committee_code LIKE '310101%'")
    con.close()
    result = publish(wh, out, policy, TEST_KEY, tiers=[Tier.DISTRICT])
    rebuilt = {p.relpath for p in result.products if not p.carried}
    assert rebuilt == {"district/310101.duckdb"}  # 310104's inputs did not change: carried as it was
    assert {p.principal.tier for p in result.products if p.carried} == set(Tier)  # the other tiers: untouched
    assert (out / "township" / "310101002.duckdb").exists()
    assert _q(out / "township" / "310101002.duckdb", "SELECT DISTINCT period FROM form_records") == [
        ("2026",)
    ]


def test_unchanged_products_are_carried_not_rewritten(tmp_path: Path, policy: Policy) -> None:
    wh = build_warehouse(tmp_path / "wh.duckdb")
    out = tmp_path / "out"
    first = publish(wh, out, policy, TEST_KEY)
    stat = {p.relpath: (out / p.relpath).stat() for p in first.products}
    con = duckdb.connect(str(wh))  # one committee's data changes; every other product's inputs stay the same
    con.execute("UPDATE staging.form_records SET period = '2027' WHERE committee_code = '310104003001'")
    con.close()
    second = publish(wh, out, policy, TEST_KEY)
    changed = {p.relpath for p in second.products if not p.carried}
    assert changed == {"city/31.duckdb", "district/310104.duckdb", "township/310104003.duckdb",
                       "committee/310104003001.duckdb"}  # fmt: skip
    for p in second.products:
        now = (out / p.relpath).stat()
        if p.carried:  # same inode, bytes and mtime: not rewritten, and its recorded scan is reused
            assert (now.st_ino, now.st_mtime_ns, now.st_size) == (stat[p.relpath].st_ino,
                    stat[p.relpath].st_mtime_ns, stat[p.relpath].st_size)  # fmt: skip
            assert p.scan and p.scan["findings"] == 0
    from assets.publish.checks import verify_generation

    assert verify_generation(out) == ([], len(second.products))


def test_encrypted_products(tmp_path: Path, dictionary_path: Path) -> None:
    from assets.publish.policy import load_policy
    from tests.publish.test_policy import _write_policy

    def encrypt_districts(docs: dict) -> None:
        for ps in docs["principals.yaml"]["principal_sets"]:
            ps["encrypt"] = ps["tier"] == "区"

    policy = load_policy(_write_policy(tmp_path, encrypt_districts), dictionary_path)
    wh = build_warehouse(tmp_path / "wh.duckdb")
    with pytest.raises(products.PublishError, match="JIANFU_PRODUCT_KEY_DISTRICT"):
        publish(wh, tmp_path / "out", policy, TEST_KEY)
    # DuckDB writes encrypted files securely only with the httpfs extension (OpenSSL); the test uses the
    # mbedTLS writer, which DuckDB marks unsafe, just to exercise the code path.
    result = publish(wh, tmp_path / "out", policy, TEST_KEY, encryption_keys={Tier.DISTRICT: "k-district-123"},
                     unsafe_test_crypto=True)  # fmt: skip
    assert result.swapped
    path = tmp_path / "out" / "district" / "310101.duckdb"
    with pytest.raises(duckdb.Error):
        duckdb.connect(str(path), read_only=True)
    expected = sum(1 for c, *_ in PEOPLE if c and c.startswith("310101"))
    assert _q(path, "SELECT count(*) FROM form_records", key="k-district-123") == [(expected,)]
    assert {p.principal.tier for p in result.products if p.encrypted} == {Tier.DISTRICT}


def test_township_level_mart_goes_to_townships_and_above_only(published: Published) -> None:
    for rec in published.result.products:
        rows = _q(rec.path, "SELECT township_code FROM burden_by_township")
        if rec.principal.tier is Tier.COMMITTEE:
            assert rows == []
        else:
            assert rows and all(code.startswith(rec.principal.jurisdiction) for (code,) in rows)
    township = _q(
        published.published / "township" / "310101002.duckdb", "SELECT township_code FROM burden_by_township"
    )
    assert township == [("310101002",)]


def test_complementary_suppression_protects_every_margin() -> None:
    import polars as pl

    from assets.publish.privacy import complementary_suppression

    cells = pl.DataFrame({
        "j": ["A"] * 6 + ["B"],
        "form": ["F", "F", "F", "G", "G", "G", "F"],
        "value": ["x", "y", "z", "x", "y", "z", "x"],
        "n": [9, 2, 30, 12, 11, 40, 1],  # planted: F/y = 2 (primary); B/F/x = 1 alone in its jurisdiction
    })  # fmt: skip
    s = complementary_suppression(cells, ["form", "value"], 5, fixed=["j"]).to_list()
    assert s[1] and s[6]  # primary
    assert s[
        0
    ]  # F/x: the smallest other cell of F's margin over value, else 9 + 2 + 30 = known total gives 2
    assert s[3]  # G/x: the column margin x (9 + 12) would give 9 back, then 2 from F's row margin
    assert not s[5]  # 40 is never needed
    for form in ("F", "G"):  # no margin group has exactly one suppressed cell or a suppressed sum below 5
        sup = [n for n, f, hide, j in zip(cells["n"], cells["form"], s, cells["j"], strict=True)
               if hide and f == form and j == "A"]  # fmt: skip
        assert len(sup) != 1 and (not sup or sum(sup) >= 5)
