"""Masking kinds, run in DuckDB exactly as the products use them."""

from __future__ import annotations

import hashlib
import hmac

import duckdb
import pytest

from assets.publish.keys import resolve_audit_key
from assets.publish.masking import (
    DEV_MASK_KEY,
    MaskKeyError,
    hmac_hex,
    register_hmac,
    resolve_mask_key,
    treatment_sql,
)


def _apply(
    action: str, semantic: str, value: object, source_type: str = "VARCHAR", key: bytes = b"k" * 32
) -> object:
    con = duckdb.connect()
    register_hmac(con, key)
    con.execute(f"CREATE TABLE t (v {source_type})")
    con.execute("INSERT INTO t VALUES (?)", [value])
    return con.execute(f"SELECT {treatment_sql(action, 'v', semantic, source_type)} FROM t").fetchall()[0][0]


def test_hmac_matches_rfc4231_test_case_2() -> None:
    # RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?"
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert hmac_hex(b"Jefe", "what do ya want for nothing?") == expected
    con = duckdb.connect()
    register_hmac(con, b"Jefe")
    assert con.execute(
        "SELECT jianfu_hmac('what do ya want for nothing?'), jianfu_hmac(NULL)"
    ).fetchall() == [(expected, None)]


def test_keyed_hash_is_stable_keyed_and_hides_the_value() -> None:
    idn = "310101195001011234"
    a = _apply("keyed_hash", "id_number", idn, key=b"a" * 32)
    assert a == _apply("keyed_hash", "id_number", " " + idn + " ", key=b"a" * 32)  # stable join key (trimmed)
    assert a != _apply("keyed_hash", "id_number", idn, key=b"b" * 32)  # depends on the key
    assert a != hashlib.sha256(idn.encode()).hexdigest()  # not a plain (brute-forceable) hash
    assert a == hmac.new(b"a" * 32, idn.encode(), hashlib.sha256).hexdigest()
    assert idn not in str(a)


@pytest.mark.parametrize(
    ("semantic", "value", "expected"),
    [
        ("id_number", "310101195001011234", "310101********1234"),
        ("id_number", "31010119500101123X", "310101********123X"),
        ("id_number", "310101500101123", "310101*****1123"),  # 15-digit legacy ID
        ("id_number", "3101011950", "**********"),  # too short to keep 6 + 4: all masked
        ("phone", "13812345678", "138****5678"),
        ("phone", "138 1234-5678", "138****5678"),  # separators dropped before masking
        ("phone", "62345678", "****5678"),  # landline: last 4 only
        ("phone", "无", None),
        ("name", "张伟", "张*"),
        ("name", "欧阳娜娜", "欧***"),
        ("name", "王", "王*"),
        ("address", "上海市黄浦区南京东路100弄1号", "上海市黄浦区南京东路***"),
        ("address", "天平路10号", "天平路***"),
        ("address", "幸福小区3号楼", "幸福小***"),
        ("id_number", None, None),
    ],
)
def test_partial(semantic: str, value: str | None, expected: str | None) -> None:
    assert _apply("partial", semantic, value) == expected


@pytest.mark.parametrize(
    ("value", "source_type", "expected"),
    [
        ("1950-03-01", "DATE", "1950"),
        ("1950-03-01", "VARCHAR", "1950"),
        ("1950-03", "VARCHAR", "1950"),
        ("不详", "VARCHAR", None),
    ],
)
def test_year_only(value: str, source_type: str, expected: str | None) -> None:
    assert _apply("year_only", "date", value, source_type) == expected


def test_nullify_keeps_the_type() -> None:
    assert _apply("nullify", "number", 42, "INTEGER") is None


def test_partial_refuses_semantics_it_does_not_cover() -> None:
    with pytest.raises(ValueError):
        treatment_sql("partial", "v", "date", "DATE")
    with pytest.raises(ValueError):
        treatment_sql("aggregate", "v", "text", "VARCHAR")


def test_mask_key_resolution() -> None:
    with pytest.raises(MaskKeyError, match="JIANFU_MASK_KEY"):
        resolve_mask_key(None, None)
    with pytest.raises(MaskKeyError):
        resolve_mask_key(None, "prod")
    with pytest.raises(MaskKeyError, match="16 bytes"):
        resolve_mask_key("short", "dev")
    dev = resolve_mask_key(None, "dev")
    assert (dev.key, dev.source) == (DEV_MASK_KEY.encode(), "dev-default")
    real = resolve_mask_key(
        "0f3a9c61d2e84b7f5a0c3e19d86b2f47", "dev"
    )  # an explicit key wins over the dev default
    assert real.source == "env" and real.fingerprint != dev.fingerprint
    assert "0f3a9c61" not in real.fingerprint


@pytest.mark.parametrize("environment", ["Dev", " dev", "dev ", "DEV", "dev\n"])
def test_jianfu_env_is_read_strictly(environment: str) -> None:
    """Only exactly `dev` enables the development keys (as for the person-id salt); look-alikes are errors."""
    with pytest.raises(MaskKeyError, match="not exactly 'dev'"):
        resolve_mask_key(None, environment)
    with pytest.raises(MaskKeyError, match="not exactly 'dev'"):
        resolve_audit_key(None, environment)
    assert resolve_mask_key("0f3a9c61d2e84b7f5a0c3e19d86b2f47", "production").source == "env"


@pytest.mark.parametrize(
    ("key", "why"),
    [
        (DEV_MASK_KEY, "documented development key"),  # planted: the public dev key outside dev
        (" " * 16, "whitespace"),  # planted: 16 spaces
        ("x" * 40, "entropy"),  # planted: one repeated character
        ("abababababababababab", "entropy"),  # planted: two characters
        ("short-key", "16 bytes"),
        (" 0f3a9c61d2e84b7f5a0c3e19d86b2f47", "whitespace"),
    ],
)
def test_weak_keys_are_refused(key: str, why: str) -> None:
    with pytest.raises(MaskKeyError, match=why):
        resolve_mask_key(key, None)
    with pytest.raises(MaskKeyError, match=why):
        resolve_audit_key(key, None)


def test_audit_key_differs_from_mask_key() -> None:
    key = "0f3a9c61d2e84b7f5a0c3e19d86b2f47"
    with pytest.raises(MaskKeyError, match="differ"):
        resolve_audit_key(key, None, resolve_mask_key(key, None).key)
    with pytest.raises(MaskKeyError, match="JIANFU_AUDIT_KEY"):
        resolve_audit_key(None, None)


def test_native_hmac_macro_equals_stdlib_and_udf(tmp_path) -> None:  # noqa: ANN001
    # RFC 4231 test case 6: a 131-byte key (longer than SHA-256's block: hashed first), and Han/odd values
    long_key = b"\xaa" * 131
    expected6 = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    values = ["Test Using Larger Than Block-Size Key - Hash Key First", "张三", "", " 310101 ", "a'b"]
    ro = tmp_path / "ro.duckdb"
    duckdb.connect(str(ro)).close()
    for key in (long_key, b"Jefe", b"k" * 64):
        native, udf = duckdb.connect(), duckdb.connect()
        native.execute(f"ATTACH '{ro}' AS wh (READ_ONLY)")
        native.execute("USE wh")  # publishing's connection: the macro must resolve with a read-only default
        register_hmac(native, key)
        register_hmac(udf, key, native=False)
        for v in values:
            want = hmac_hex(key, v)
            assert native.execute("SELECT jianfu_hmac(?)", [v]).fetchall()[0][0] == want
            assert udf.execute("SELECT jianfu_hmac(?)", [v]).fetchall()[0][0] == want
        assert native.execute("SELECT jianfu_hmac(NULL)").fetchall()[0][0] is None
    assert hmac_hex(long_key, values[0]) == expected6
