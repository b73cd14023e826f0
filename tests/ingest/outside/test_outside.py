"""Issue 8, item 8: deliveries written from the outside, run through the real job once, checked per case.

The builder (builder.py, cases_*.py) plants ~60 office habits in a temporary landing zone; the job runs
once for the module (`python -m pipelines.cli run`, the same as `jianfu run`); each case then asserts
what it planted. The expectations come from issue 8 and docs/CONTRACTS.md only, never from the
ingestion code. A failing case prints every broken expectation at once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from .builder import build, landing_files
from .expect import Warehouse, check_case, has_replaced_rows
from .model import REGISTRY
from .people import REPO

CASE_KEYS = [f"{n:02d}_{REGISTRY[n][0]}" for n in sorted(REGISTRY)]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Build the landing zone, run the job on it once, open the warehouse read-only.

    Set JIANFU_OUTSIDE_DIR=/some/dir to keep the landing zone, warehouse and run.log for inspection."""
    keep = os.environ.get("JIANFU_OUTSIDE_DIR")
    root = Path(keep) if keep else tmp_path_factory.mktemp("outside")
    if keep:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
    landing, warehouse, home = root / "landing", root / "jianfu.duckdb", root / "dagster_home"
    home.mkdir()
    cases = {c.key: c for c in build(landing)}
    env = {
        **os.environ,
        "JIANFU_ENV": "dev",
        "DAGSTER_HOME": str(home),
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "JIANFU_WAREHOUSE": str(warehouse),
        "JIANFU_LANDING": str(landing),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "run",
            "--landing",
            str(landing),
            "--warehouse",
            str(warehouse),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = proc.stdout + proc.stderr
    (root / "run.log").write_text(log, encoding="utf-8")
    assert warehouse.exists(), f"the job wrote no warehouse (exit {proc.returncode}):\n{log[-3000:]}"
    con = duckdb.connect(str(warehouse), read_only=True)
    yield Warehouse(con, run_log=log), cases, landing
    con.close()


@pytest.mark.parametrize("key", CASE_KEYS)
def test_case(run, key):
    w, cases, _ = run
    case = cases[key]
    failures = check_case(w, case)
    assert not failures, f"{key}: {case.desc}\n  " + "\n  ".join(failures)


def test_every_landing_file_is_accounted(run):
    """Landing level: no file of the landing zone is silently absent from raw.landing_files."""
    w, _, landing = run
    known = {s for (s,) in w.rows("SELECT source_file FROM raw.landing_files")}
    missing = [
        f for f in landing_files(landing) if f not in known and not any(f.startswith(k + "/") for k in known)
    ]
    assert not missing, f"{len(missing)} delivered files absent from raw.landing_files:\n  " + "\n  ".join(
        missing
    )


def test_file_accounting_adds_up(run):
    """Per file: rows_read = staged + quarantined + skipped (+ replaced, where the contract has rows_replaced:
    rows of a superseded or duplicate file, each listed in raw.replaced_rows with the file that replaced it)."""
    w, _, _ = run
    replaced = has_replaced_rows(w)
    bad = w.rows(
        "SELECT source_file, status, rows_read, rows_staged, rows_quarantined, rows_skipped"
        + (", rows_replaced" if replaced else "")
        + " FROM raw.landing_files WHERE rows_read <> coalesce(rows_staged, 0) + coalesce(rows_quarantined, 0)"
        " + coalesce(rows_skipped, 0)" + (" + coalesce(rows_replaced, 0)" if replaced else "")
    )
    assert not bad, "accounting broken:\n  " + "\n  ".join(map(str, bad))
    if replaced:  # a replaced row names its replacing file, and the per-file count matches the listed rows
        unnamed = w.rows(
            "SELECT l.source_file, l.rows_replaced, count(r.source_file), count(r.replaced_by) "
            "FROM raw.landing_files l LEFT JOIN raw.replaced_rows r USING (file_id) "
            "GROUP BY ALL HAVING coalesce(l.rows_replaced, 0) <> count(r.replaced_by) "
            "OR count(r.source_file) <> count(r.replaced_by)"
        )
        assert not unnamed, "replaced rows not listed or not naming the replacing file:\n  " + "\n  ".join(
            map(str, unnamed)
        )


def test_no_planted_row_lost_and_no_silent_misparse(run):
    """Issue 8's headline figures over all cases: 0 planted rows in no table, 0 values staged wrong unflagged."""
    w, cases, _ = run
    w.lost.clear()
    w.silent.clear()
    for case in cases.values():
        check_case(w, case)
    lost, silent = list(w.lost), list(w.silent)
    assert not lost and not silent, (
        f"{len(lost)} planted rows lost, {len(silent)} values staged wrong without a flag\n  "
        + "\n  ".join(lost + silent)
    )
