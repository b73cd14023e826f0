"""Attack 7 of issue 9: rewrite the audit. The append-only logs (`published/_audit/*.jsonl`) and the
warehouse audit tables are edited, truncated, deleted or polluted; `jianfu audit verify` (issue 9,
item 5) must notice every tampering (non-zero exit) and pass on an intact audit."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest

from tests.attack import support

AUDIT_TABLES = ("audit.publication_manifest", "audit.publication_runs", "audit.query_log")


def _logs(world) -> dict[str, Path]:
    audit = world.published / "_audit"
    return {"manifest": audit / "publication_manifest.jsonl", "query_log": audit / "query_log.jsonl"}


def verify(world) -> tuple[int, str]:
    """`jianfu audit verify` with the folders it documents; a missing command is a failure, never a pass."""
    help_text = world.jianfu("audit", "verify", "--help", timeout=120)
    assert help_text.returncode == 0, f"no `jianfu audit verify` command: {help_text.stderr[-500:]}"
    args = ["audit", "verify"]
    if "--warehouse" in help_text.stdout:
        args += ["--warehouse", str(world.warehouse)]
    if "--published" in help_text.stdout:
        args += ["--published", str(world.published)]
    proc = world.jianfu(*args, timeout=300)
    output = proc.stdout + proc.stderr
    assert not (proc.returncode == 2 and "usage:" in output), (
        f"`jianfu {' '.join(args)}` misused: {output[-800:]}"
    )
    return proc.returncode, output


@pytest.fixture(scope="module")
def audited(world, tmp_path_factory):
    """A private copy with a few queries logged and one more publication (so the warehouse copy of the
    query log has rows): the intact audit every tampering starts from."""
    w = world.clone(tmp_path_factory.mktemp("audit_base"))
    principal = sorted(k for k in support.visible_products(w.published) if k[0] == "district")[0]
    for sql in (
        "SELECT count(*) FROM persons",
        "SELECT committee_code, count(*) FROM form_records GROUP BY ALL",
    ):
        proc = w.jianfu(
            "query", "--as", f"{principal[0]}:{principal[1]}", "--published", str(w.published), sql
        )
        assert proc.returncode == 0, proc.stderr[-1000:]
    proc = w.jianfu("publish", "--warehouse", str(w.warehouse), "--tier", "city", timeout=600)
    assert proc.returncode == 0, f"publish failed: {proc.stdout[-1500:]} {proc.stderr[-1500:]}"
    proc = w.jianfu("query", "--as", f"{principal[0]}:{principal[1]}", "--published", str(w.published),
                    "SELECT 'after the last publication' AS note")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-1000:]
    return w


@pytest.fixture
def copy(audited, tmp_path):
    return audited.clone(tmp_path / "tampered")


def _plain_sha256_chain(lines: list[str]) -> list[str]:
    """Re-chain entries the way an unkeyed sha256 chain does (sha256 of the canonical JSON of the entry
    with its prev_sha256, without entry_sha256) — what an attacker recomputes after an edit."""
    out, prev = [], None
    for line in lines:
        entry = json.loads(line)
        if prev is not None and "prev_sha256" in entry:
            entry["prev_sha256"] = prev
        body = {k: v for k, v in entry.items() if k != "entry_sha256"}
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False,
                                           separators=(",", ":")).encode("utf-8")).hexdigest()  # fmt: skip
        if "entry_sha256" in entry:
            entry["entry_sha256"] = digest
        prev = digest
        out.append(json.dumps(entry, ensure_ascii=False))
    return out


def _lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text(encoding="utf-8").split("\n") if ln.strip()]


def _edit(entry: dict) -> dict:
    """Change what the record says: a count, a status, a hash of a product, a query's text."""
    for key in ("rows", "row_count", "status", "product_sha256", "sql", "products", "denials"):
        if key in entry:
            value = entry[key]
            entry[key] = value + 1 if isinstance(value, int) else ("ok" if value != "ok" else "refused")
            if key == "sql":
                entry[key] = "SELECT 1"
            return entry
    entry["tampered"] = True
    return entry


def test_intact_audit_verifies(audited) -> None:
    """Control: on an untouched audit `jianfu audit verify` exits 0 (otherwise every detection below
    would mean nothing)."""
    rc, output = verify(audited)
    assert rc == 0, output[-2000:]


@pytest.mark.parametrize("log", ["manifest", "query_log"])
@pytest.mark.parametrize("where", ["first", "last"])
def test_edited_record_with_recomputed_hashes_is_detected(copy, log, where) -> None:
    """Attack: change one record of a JSONL audit log (a row count, a status, a product hash, a query's
    SQL) and recompute the plain sha256 chain over it and every later record. Property: verify fails."""
    path = _logs(copy)[log]
    lines = _lines(path)
    assert lines, f"{path} is empty"
    i = 0 if where == "first" else len(lines) - 1
    entry = _edit(json.loads(lines[i]))
    lines[i] = json.dumps(entry, ensure_ascii=False)
    path.write_text("\n".join(_plain_sha256_chain(lines)) + "\n", encoding="utf-8")
    rc, output = verify(copy)
    assert rc != 0, f"an edited {log} record ({where}) with recomputed hashes verified as intact"


@pytest.mark.parametrize("log", ["manifest", "query_log"])
def test_dropped_tail_is_detected(copy, log) -> None:
    """Attack: drop the last record(s) of an audit log (the chain of what is left is still valid).
    Property: verify fails."""
    path = _logs(copy)[log]
    lines = _lines(path)
    path.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    rc, _ = verify(copy)
    assert rc != 0, f"{log} with its last record dropped verified as intact"


@pytest.mark.parametrize("log", ["manifest", "query_log"])
def test_deleted_log_is_detected(copy, log) -> None:
    """Attack: delete an audit log file. Property: verify fails."""
    _logs(copy)[log].unlink()
    rc, _ = verify(copy)
    assert rc != 0, f"deleting the {log} file went unnoticed"


@pytest.mark.parametrize("op", ["DELETE", "UPDATE"])
def test_warehouse_audit_tables_refuse_or_detect_rewrites(audited, tmp_path, op) -> None:
    """Attack: as an operator with the warehouse file, DELETE or UPDATE a row of each audit table (every
    table of schema `audit`, each on a fresh copy). Property: the write is refused, or `jianfu audit
    verify` then fails."""
    with support.open_ro(audited.warehouse) as con:
        found = [f"audit.{t}" for (t,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'audit' ORDER BY 1").fetchall()]  # fmt: skip
        nonempty = [t for t in found if con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] > 0]
    missing = [t for t in AUDIT_TABLES if t not in nonempty]
    assert not missing, f"documented audit tables absent or empty (nothing to tamper with): {missing}"
    unnoticed = []
    for table in nonempty:
        copy = audited.clone(tmp_path / f"{op}_{table}")
        con = duckdb.connect(str(copy.warehouse))
        try:
            cols = con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE "
                               f"table_schema || '.' || table_name = '{table}'").fetchall()  # fmt: skip
            text_col = next((c for c, t in cols if t.upper().startswith("VARCHAR") and "sha" not in c
                             and "mac" not in c), cols[0][0])  # fmt: skip
            sql = (f"DELETE FROM {table} WHERE rowid = (SELECT max(rowid) FROM {table})" if op == "DELETE"
                   else f"UPDATE {table} SET \"{text_col}\" = 'tampered' WHERE rowid = (SELECT min(rowid) FROM {table})")  # fmt: skip
            try:
                con.execute(sql)
                refused = False
            except duckdb.Error:
                refused = True
        finally:
            con.close()
        if refused:
            continue
        rc, _ = verify(copy)
        if rc == 0:
            unnoticed.append(table)
    assert not unnoticed, f"{op} accepted and unnoticed by `jianfu audit verify` on: {unnoticed}"


def test_line_separator_in_a_query_breaks_nothing(copy) -> None:
    """Attack: log queries containing U+2028 / U+2029 (and other separators JSON does not escape by
    default). Property: every log line is still one JSON record (str.splitlines-safe), a later `jianfu
    publish` succeeds, and `jianfu audit verify` passes."""
    principal = sorted(k for k in support.visible_products(copy.published) if k[0] == "district")[0]
    for sql in ('SELECT 1 AS "a\u2028b"', "SELECT '\u2029' AS x", "SELECT 1 -- \u0085\u000b\u000c"):
        copy.jianfu(
            "query", "--as", f"{principal[0]}:{principal[1]}", "--published", str(copy.published), sql
        )
    problems = []
    for name, path in _logs(copy).items():
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    json.loads(line)
                except json.JSONDecodeError:
                    problems.append(
                        f"{name} line {i} (str.splitlines) is not a JSON record: a separator is not escaped"
                    )
                    break
    proc = copy.jianfu("publish", "--warehouse", str(copy.warehouse), "--tier", "city", timeout=900)
    if proc.returncode != 0:
        problems.append(
            f"publish after the query exited {proc.returncode}: {(proc.stdout + proc.stderr)[-600:]}"
        )
    try:
        rc, output = verify(copy)
        if rc != 0:
            problems.append(f"audit verify exited {rc}: {output[-600:]}")
    except AssertionError as exc:
        problems.append(str(exc).splitlines()[0])
    assert not problems, "\n".join(problems)
