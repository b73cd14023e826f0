"""Products written by a pool of processes are the products written in one process: the same files, tables and
rows, each file scanned as it was written, and a city or district product updated from pieces in a worker
equals one rebuilt from every row."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from assets.publish import checks, pool
from assets.publish.policy import Policy, Tier
from assets.publish.products import product_files, publish
from tests.publish.conftest import TEST_KEY, Published, build_warehouse


def _contents(path: Path) -> dict[str, list[tuple]]:
    """Every table of a product, rows sorted; `_product` without the fields naming the run."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        out = {t: sorted(con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables
               if t != "_product"}  # fmt: skip
        out["_product"] = con.execute(
            "SELECT * EXCLUDE (run_id, generation, published_at) FROM _product"
        ).fetchall()
        return out
    finally:
        con.close()


def _by_relpath(published: Path) -> dict[str, Path]:
    return {f"{p.parent.name}/{p.name}": p for p in product_files(published)}


def test_split_limit_gives_each_worker_its_share() -> None:
    assert pool.split_limit("3GB", 2) == "1500MB"
    assert pool.split_limit("4GiB", 4) == "1073MB"
    assert pool.split_limit("3GB", 1) == "3GB"
    assert pool.split_limit("80%", 2) == "80%"  # not a size: DuckDB's own reading of it is kept


def test_covering_keeps_the_fewest_prefixes() -> None:
    assert pool.covering(["310104003001", "310104", "310104003", "310101001001"]) == [
        "310104",
        "310101001001",
    ]


def test_a_pool_staging_only_its_jobs_rows_writes_the_same_products(
    tmp_path: Path, policy: Policy, published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    # only committee products are jobs: the stage file holds the committees' rows, not every row of the city
    monkeypatch.setenv("JIANFU_PUBLISH_WORKERS", "2")
    wh = build_warehouse(tmp_path / "wh.duckdb")
    out = tmp_path / "out"
    result = publish(wh, out, policy, TEST_KEY, tiers=[Tier.COMMITTEE])
    assert result.swapped and result.counts_by_tier() == {"committee": result.product_count}
    theirs = _by_relpath(published.published)
    for rel, path in _by_relpath(out).items():
        assert _contents(path) == _contents(theirs[rel]), rel


def test_pool_writes_the_same_products_as_one_process(
    tmp_path: Path, policy: Policy, published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JIANFU_PUBLISH_WORKERS", "2")
    wh = build_warehouse(tmp_path / "wh.duckdb")
    out = tmp_path / "out"
    first = publish(wh, out, policy, TEST_KEY)
    assert first.swapped and first.scan.passed and first.carried == 0
    mine, theirs = _by_relpath(out), _by_relpath(published.published)
    assert sorted(mine) == sorted(theirs) and len(mine) == published.result.product_count
    for rel, path in mine.items():
        assert _contents(path) == _contents(theirs[rel]), rel
    # every file was scanned where it was written, and the stage file is gone with the building folder
    assert all(p.scan and p.scan["tables"] > 0 for p in first.products)
    assert first.scan.tables == published.result.scan.tables and first.scan.rows == published.result.scan.rows
    assert not list(out.glob(".building/*"))
    assert checks.verify_generation(out) == ([], first.product_count)

    # one committee's rows change: its tiers are rewritten by workers, the city from pieces
    con = duckdb.connect(str(wh))
    con.execute("UPDATE staging.form_records SET period = '2027' WHERE committee_code = '310104003001'")
    con.close()
    before = {rel: (p.stat().st_ino, p.stat().st_mtime_ns) for rel, p in _by_relpath(out).items()}
    second = publish(wh, out, policy, TEST_KEY)
    assert second.swapped and second.pieced >= 1 and second.carried > 0
    after = _by_relpath(out)
    untouched = [r for r in before if not r.split("/")[1].startswith(("310104", "31."))]
    assert untouched and all(
        (after[r].stat().st_ino, after[r].stat().st_mtime_ns) == before[r] for r in untouched
    )
    monkeypatch.setenv("JIANFU_PUBLISH_WORKERS", "1")
    fresh = publish(wh, tmp_path / "fresh", policy, TEST_KEY)
    for rel, path in _by_relpath(tmp_path / "fresh").items():
        assert _contents(after[rel]) == _contents(path), rel
    assert fresh.pieced == 0 and checks.verify_generation(out) == ([], second.product_count)
