"""Attack 8 of issue 9: escape `jianfu query --as PRINCIPAL "SQL"` (docs/access.md: one SELECT, no files,
no writes, configuration locked, every attempt logged). Each attempt runs the documented CLI on a private
copy of the products; the property: refused (non-zero exit), no side effect, nothing read outside the
product, and the attempt logged with a non-ok status."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.attack import support

SENTINEL_KEY = "attack-sentinel-key-0123456789abcdef"
PASSWD_MARK = "root:x:0:0"
LONG_SQL = "SELECT sum(hash(a.range * 31 + b.range)) AS h FROM range(200000000) AS a, range(200000) AS b"


@dataclass
class Attempt:
    name: str
    sql: str
    proc: subprocess.CompletedProcess[str] | None = None


def _attempts(out: Path, warehouse: Path, product: Path, tmp: Path) -> list[Attempt]:
    o = str(out)
    raw = {
        "explain_analyze_copy": f"EXPLAIN ANALYZE COPY (SELECT * FROM persons) TO '{o}/ea.csv'",
        "explain_analyze_create": "EXPLAIN ANALYZE CREATE TABLE pwn AS SELECT 1 AS x",
        "explain_analyze_read_text": "EXPLAIN ANALYZE SELECT * FROM read_text('/etc/passwd')",
        "quote_in_line_comment_copy": f"-- it's only a comment\nCOPY (SELECT * FROM persons) TO '{o}/cq.csv' -- '",
        "quote_in_line_comment_select_then_copy": f"SELECT 1 -- don't\n; COPY persons TO '{o}/cq2.csv' -- '",
        "block_comment_copy": f"/* ' */ COPY persons TO '{o}/bc.csv' /* ' */",
        "nested_block_comment_copy": f"/* /* ' */ */ COPY persons TO '{o}/nbc.csv'",
        "copy_to": f"COPY persons TO '{o}/plain.csv'",
        "copy_lowercase_tab": f"copy\tpersons to '{o}/tab.csv'",
        "copy_from": f"COPY persons FROM '{o}/none.csv'",
        "attach_warehouse": f"ATTACH '{warehouse}' AS w (READ_ONLY)",
        "attach_hidden_by_comment_quote": f"-- '\nATTACH '{warehouse}' AS w -- '",
        "detach": "DETACH product",
        "install": "INSTALL httpfs",
        "force_install": "FORCE INSTALL httpfs",
        "load": "LOAD httpfs",
        "pragma": "PRAGMA enable_profiling",
        "pragma_database_list": "PRAGMA database_list",
        "set_external_access": "SET enable_external_access = true",
        "set_lock_configuration": "SET lock_configuration = false",
        "reset_external_access": "RESET enable_external_access",
        "call": "CALL pragma_database_list()",
        "export_database": f"EXPORT DATABASE '{o}/exported'",
        "checkpoint": "CHECKPOINT",
        "create_temp_table": "CREATE TEMP TABLE t AS SELECT 1 AS x",
        "create_macro": "CREATE MACRO m() AS 1",
        "read_text_passwd": "SELECT * FROM read_text('/etc/passwd')",
        "read_csv_passwd": "SELECT * FROM read_csv('/etc/passwd', header = false)",
        "read_csv_auto_passwd": "SELECT * FROM read_csv_auto('/etc/passwd')",
        "read_json_passwd": "SELECT * FROM read_json_auto('/etc/passwd')",
        "read_blob_passwd": "SELECT * FROM read_blob('/etc/passwd')",
        "read_parquet_passwd": "SELECT * FROM read_parquet('/etc/passwd')",
        "sniff_csv_passwd": "SELECT * FROM sniff_csv('/etc/passwd')",
        "replacement_scan_passwd": "SELECT * FROM '/etc/passwd'",
        "read_blob_warehouse": f"SELECT * FROM read_blob('{warehouse}')",
        "read_text_warehouse": f"SELECT * FROM read_text('{warehouse}')",
        "glob_tmp": f"SELECT * FROM glob('{tmp}/**')",
        "glob_root": "SELECT * FROM glob('/*')",
        "glob_temp_directory": "SELECT * FROM glob(current_setting('temp_directory') || '/**')",
        "read_text_temp_directory": "SELECT * FROM read_text(current_setting('temp_directory') || '/**')",
        "read_text_relative": "SELECT * FROM read_text('**/*.jsonl')",
        "multiple_statements": "SELECT 1; SELECT 2",
        "select_then_copy": f"SELECT 1; COPY persons TO '{o}/multi.csv'",
        "cte_wrapping_insert": "WITH t AS (SELECT 1) INSERT INTO persons SELECT * FROM persons",
        "cte_wrapping_delete": "WITH d AS (DELETE FROM persons RETURNING *) SELECT * FROM d",
        "cte_wrapping_copy": f"WITH t AS (SELECT 1) COPY persons TO '{o}/cte.csv'",
        "delete": "DELETE FROM persons",
        "update": "UPDATE persons SET committee_code = '0'",
        "drop": "DROP TABLE persons",
        "u2028_hides_copy": f"SELECT 1 --\u2028COPY persons TO '{o}/u2028.csv'",
        "u2029_hides_copy": f"SELECT 1 --\u2029; COPY persons TO '{o}/u2029.csv'",
        "nbsp_copy": f"COPY\u00a0persons TO '{o}/nbsp.csv'",
        "zero_width_copy": f"CO\u200bPY persons TO '{o}/zw.csv'",
        "fullwidth_semicolon": f"SELECT 1\uff1b COPY persons TO '{o}/fw.csv'",
        "cyrillic_homoglyph_attach": f"АTTACH '{warehouse}' AS w",
        "getenv_key": "SELECT getenv('JIANFU_MASK_KEY') AS k",
    }
    return [Attempt(name, sql) for name, sql in raw.items()]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _log_entries(published: Path) -> list[dict]:
    path = published / "_audit" / "query_log.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                out.append({"_unparseable": line})
    return out


def _logged(entries: list[dict], sql: str) -> list[dict]:
    return [e for e in entries if sql in [v for v in e.values() if isinstance(v, str)]]


@dataclass
class Arena:
    world: object
    principal: str
    product: Path
    product_sha: str
    out: Path
    attempts: dict[str, Attempt]
    control: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def arena(world, tmp_path_factory) -> Arena:
    """A private copy of the products; every escape attempt run once through the CLI (3 at a time)."""
    w = world.clone(tmp_path_factory.mktemp("query_arena"))
    township = sorted(k for k in support.visible_products(w.published) if k[0] == "township")[0]
    principal = f"{township[0]}:{township[1]}"
    product = support.visible_products(w.published)[township]
    out = w.root / "escape_out"
    out.mkdir()
    sha = _sha(product)
    attempts = _attempts(out, w.warehouse, product, w.root / "tmp")
    env = {"JIANFU_MASK_KEY": SENTINEL_KEY}

    def run(a: Attempt) -> Attempt:
        a.proc = w.jianfu(
            "query", "--as", principal, "--published", str(w.published), a.sql, timeout=120, env=env
        )
        return a

    control = w.jianfu("query", "--as", principal, "--published", str(w.published),
                       "SELECT count(*) AS n FROM persons", timeout=120)  # fmt: skip
    with ThreadPoolExecutor(max_workers=3) as pool:
        done = list(pool.map(run, attempts))
    return Arena(w, principal, product, sha, out, {a.name: a for a in done}, control)


def test_control_query_works(arena) -> None:
    """Sanity: a plain SELECT on the principal's product runs (rc 0) and is logged — so the refusals
    below are refusals, not a broken harness."""
    assert arena.control.returncode == 0, arena.control.stderr[-2000:]
    assert _logged(_log_entries(arena.world.published), "SELECT count(*) AS n FROM persons")


ATTEMPT_NAMES = [a.name for a in _attempts(Path("/o"), Path("/w"), Path("/p"), Path("/t"))]


@pytest.mark.parametrize("name", ATTEMPT_NAMES)
def test_escape_attempt_is_refused_without_effect_and_logged(arena, name) -> None:
    """Attack: one escape attempt through `jianfu query` (writes hidden behind EXPLAIN ANALYZE, comments,
    quotes, CTEs or unicode; ATTACH/INSTALL/LOAD/PRAGMA/SET/CALL; file-reading table functions on
    /etc/passwd, the warehouse or DuckDB's temp folder; several statements). Property: non-zero exit, no
    file written, nothing outside the product read, the product unchanged, the attempt logged non-ok."""
    a = arena.attempts[name]
    assert a.proc is not None
    output = a.proc.stdout + a.proc.stderr
    problems = []
    if a.proc.returncode == 0:
        problems.append("exit 0 (accepted)")
    if PASSWD_MARK in output:
        problems.append("/etc/passwd content in the output")
    if SENTINEL_KEY in output:
        problems.append("the mask key in the output")
    if "DUCK" in output and "read_" in a.sql and "warehouse" in name:
        problems.append("warehouse bytes in the output")
    written = sorted(p.name for p in arena.out.rglob("*"))
    if written:
        problems.append(f"files written: {written}")
    if _sha(arena.product) != arena.product_sha:
        problems.append("the product changed")
    logged = _logged(_log_entries(arena.world.published), a.sql)
    if not logged:
        problems.append("not logged")
    elif all(str(e.get("status", "")).lower() == "ok" for e in logged):
        problems.append("logged as ok")
    assert not problems, f"{name}: {problems}; rc={a.proc.returncode}; output: {output[-600:]!r}"


def test_sandbox_settings_are_locked(arena) -> None:
    """Attack: ask the connection how it is configured. Property: external access is off and the
    configuration is locked (the documented sandbox), or the question itself is refused."""
    sql = ("SELECT current_setting('enable_external_access') AS ext, "
           "current_setting('lock_configuration') AS locked")  # fmt: skip
    proc = arena.world.jianfu("query", "--as", arena.principal, "--published", str(arena.world.published),
                              "--format", "csv", sql, timeout=120)  # fmt: skip
    if proc.returncode == 0:
        body = proc.stdout.lower()
        assert "false" in body and "true" in body, proc.stdout


def _query_help(world) -> str:
    return world.jianfu("query", "--help", timeout=60).stdout


def _start_long(world, principal: str, extra: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([str(support.JIANFU), "query", "--as", principal, "--published", str(world.published),
                             *extra, LONG_SQL], env=world.env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=str(support.REPO), start_new_session=True)  # fmt: skip


def _statuses(world, sql: str) -> list[str]:
    return [str(e.get("status", "")) for e in _logged(_log_entries(world.published), sql)]


def test_long_running_query_times_out_and_is_logged(arena) -> None:
    """Attack: a SELECT that would run for hours (a cross join of 4e13 rows) ties up the machine.
    Property: the CLI stops it by itself within its timeout (we allow 90 s; `--timeout 5` is passed when
    the CLI offers it), exits non-zero, and logs the attempt as timed out / not ok."""
    w = arena.world
    extra = ["--timeout", "5"] if "--timeout" in _query_help(w) else []
    proc = _start_long(w, arena.principal, extra)
    try:
        rc = proc.wait(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail("the query was still running after 90 s: no timeout")
    assert rc != 0, "a query that cannot finish in time exited 0"
    statuses = _statuses(w, LONG_SQL)
    assert statuses and any(s.lower() != "ok" for s in statuses), f"timed-out query logged as {statuses}"


def test_ctrl_c_stops_the_query_and_is_logged(arena) -> None:
    """Attack: the user presses Ctrl-C (SIGINT to the process group) during a long query. Property: the
    CLI stops within 15 s, exits non-zero, and logs the attempt as interrupted / not ok."""
    w = arena.world
    before = len(_statuses(w, LONG_SQL))
    proc = _start_long(w, arena.principal, [])
    time.sleep(6)
    os.killpg(proc.pid, signal.SIGINT)
    try:
        rc = proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail("Ctrl-C did not stop the query within 15 s")
    assert rc != 0
    statuses = _statuses(w, LONG_SQL)
    assert len(statuses) > before and statuses[-1].lower() != "ok", f"interrupted query logged as {statuses}"


def test_killed_query_attempt_is_logged(arena) -> None:
    """Attack: kill -9 the CLI while its query runs (nothing can be logged after SIGKILL). Property: the
    attempt is in the log anyway (logged before it runs)."""
    w = arena.world
    sql = LONG_SQL + " -- killed"
    proc = subprocess.Popen([str(support.JIANFU), "query", "--as", arena.principal, "--published",
                             str(w.published), sql], env=w.env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=str(support.REPO), start_new_session=True)  # fmt: skip
    time.sleep(6)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _logged(_log_entries(w.published), sql), "a killed query left no trace in the query log"


@pytest.mark.parametrize(
    "reference",
    ["city:31/../../../jianfu", "district:../../jianfu", "township:310101015/x/../../../../jianfu",
     "city:31/../../district/310101", "committee:3101", "district:310101\u2028"],
)  # fmt: skip
def test_principal_reference_cannot_reach_another_file(arena, reference) -> None:
    """Attack: a principal reference that walks out of the products folder (a suffix or code with `..`),
    names a jurisdiction of the wrong length, or carries a line separator. Property: refused, and no
    warehouse schema (raw, staging, core, audit …) is ever listed."""
    w = arena.world
    proc = w.jianfu("query", "--as", reference, "--published", str(w.published),
                    "SELECT DISTINCT schema_name FROM duckdb_schemas()", timeout=120)  # fmt: skip
    assert proc.returncode != 0, f"{reference!r} accepted: {proc.stdout[-300:]}"
    assert "staging" not in proc.stdout and "quarantine" not in proc.stdout
