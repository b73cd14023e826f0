"""Attack 10 of issue 9: half-enable development mode with a near-miss JIANFU_ENV, or publish outside
dev with a known or weak mask key. Property: one strict reading of JIANFU_ENV (refused, or dev
everywhere), and known-weak keys refused before anything is written."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys

import duckdb
import pytest

from tests.attack import support


def _warehouse_copy(world, dest):
    """A copy of the warehouse as it was before any publication (no `audit` schema), so a run into a
    fresh products folder meets a consistent (empty) audit: a refusal must then be about the key."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(world.warehouse, dest / world.warehouse.name)
    con = duckdb.connect(str(dest / world.warehouse.name))
    try:
        con.execute("DROP SCHEMA IF EXISTS audit CASCADE")
    finally:
        con.close()
    return dest / world.warehouse.name


def _env(world, warehouse, **extra: str) -> dict[str, str]:
    """The world's environment without any key or dev switch, plus `extra`."""
    drop = ("JIANFU_ENV", "JIANFU_MASK_KEY", "JIANFU_PERSON_ID_SALT", "JIANFU_AUDIT_KEY")
    env = {k: v for k, v in world.env.items() if k not in drop}
    env["JIANFU_WAREHOUSE"] = str(warehouse)
    env.update(extra)
    return env


def _publish_city(world, warehouse, published, env) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(support.JIANFU), "publish", "--warehouse", str(warehouse), "--published",
                           str(published), "--tier", "city"], env=env, text=True, capture_output=True,
                          cwd=str(support.REPO), timeout=900)  # fmt: skip


def _products_written(published) -> list:
    return list(support.visible_products(published).values()) if published.exists() else []


def _hashes(path) -> set[str]:
    with support.open_ro(path) as con:
        cols = support.columns(con, "persons") if "persons" in support.tables(con) else {}
        col = "person_id" if "person_id" in cols else next(iter(cols), None)
        return {v for (v,) in support.rows(con, f'SELECT "{col}" FROM persons')} if col else set()


@pytest.fixture(scope="module")
def person_rows(world, tmp_path_factory):
    """A small input for `jianfu match` (the other consumer of JIANFU_ENV: the person-id salt)."""
    out = tmp_path_factory.mktemp("keys") / "rows.parquet"
    with support.open_ro(world.warehouse) as con:
        first = con.execute("SELECT min(left(committee_code, 9)) FROM staging.person_rows").fetchall()[0][0]
        con.execute(f"COPY (SELECT * FROM staging.person_rows WHERE starts_with(committee_code, '{first}')) "
                    f"TO '{out}' (FORMAT parquet)")  # fmt: skip
    return out


@pytest.mark.parametrize("value", ["Dev", " dev", "DEV"])
def test_near_miss_jianfu_env_is_refused_or_fully_dev(world, tmp_path, person_rows, value) -> None:
    """Attack: JIANFU_ENV set to a near miss of `dev`, no mask key, no person-id salt. Property: either
    every consumer refuses (publish and match exit non-zero, nothing written), or every consumer is in dev
    mode (both succeed, and the published keyed hashes equal those of a real JIANFU_ENV=dev run) — never
    the dev mask key without the dev salt."""
    warehouse = _warehouse_copy(world, tmp_path / "w")
    env = _env(world, warehouse, JIANFU_ENV=value)
    published = tmp_path / "published"
    pub = _publish_city(world, warehouse, published, env)
    match = subprocess.run([str(support.JIANFU), "match", "--spec", str(support.REPO / "schemas/matching/residents.yaml"),
                            "--input", str(person_rows), "--output", str(tmp_path / "clusters.parquet")], env=env,
                           text=True, capture_output=True, cwd=str(support.REPO), timeout=600)  # fmt: skip
    pub_ok, match_ok = pub.returncode == 0, match.returncode == 0
    assert pub_ok == match_ok, (f"JIANFU_ENV={value!r} half-enables dev: publish "
                                f"{'accepted' if pub_ok else 'refused'}, match {'accepted' if match_ok else 'refused'}")  # fmt: skip
    if not pub_ok:
        assert not _products_written(published), "a refused run still wrote products"
        assert "JIANFU_ENV" in pub.stdout + pub.stderr or "JIANFU_MASK_KEY" in pub.stdout + pub.stderr, \
            f"refusal does not say why: {pub.stderr[-500:]}"  # fmt: skip
    else:
        dev_city = support.visible_products(world.published)[("city", "31")]
        new_city = support.visible_products(published)[("city", "31")]
        assert _hashes(new_city) == _hashes(dev_city), "accepted as dev, but not with the dev key"


def _dev_key() -> str:
    """The documented, public development key (docs/access.md: masking.DEV_MASK_KEY)."""
    proc = subprocess.run([sys.executable, "-c", "from assets.publish.masking import DEV_MASK_KEY; print(DEV_MASK_KEY)"],
                          text=True, capture_output=True, cwd=str(support.REPO), timeout=120)  # fmt: skip
    assert proc.returncode == 0, (
        f"the documented dev key masking.DEV_MASK_KEY is not importable: {proc.stderr[-300:]}"
    )
    return proc.stdout.rstrip("\n")


STRONG_SALT = hashlib.sha256(b"attack-suite salt").hexdigest()
STRONG_MASK_KEY = hashlib.sha256(b"attack-suite mask").hexdigest()
# the audit chain's own key (README: JIANFU_AUDIT_KEY, separate from the mask key); ignored where unknown
STRONG_AUDIT_KEY = hashlib.sha256(b"attack-suite audit").hexdigest()
WEAK_KEYS = {
    "documented_dev_key": None,  # filled at run time
    "sixteen_spaces": " " * 16,
    "short": "abc123",
    "one_repeated_character": "a" * 32,
    "dev_key_with_padding": "pad",  # the dev key with surrounding spaces (filled at run time)
}


@pytest.mark.parametrize("name", list(WEAK_KEYS))
def test_weak_mask_key_is_refused_outside_dev(world, tmp_path, name) -> None:
    """Attack: publish outside dev (JIANFU_ENV unset) with a known or weak JIANFU_MASK_KEY — the public
    dev key (bare or padded with spaces), 16 spaces, a short key, one character repeated. Property: the run
    is refused (non-zero exit) before any product is written."""
    key = WEAK_KEYS[name]
    if name == "documented_dev_key":
        key = _dev_key()
    elif name == "dev_key_with_padding":
        key = f"  {_dev_key()}  "
    warehouse = _warehouse_copy(world, tmp_path / "w")
    published = tmp_path / "published"
    proc = _publish_city(
        world,
        warehouse,
        published,
        _env(
            world,
            warehouse,
            JIANFU_MASK_KEY=str(key),
            JIANFU_PERSON_ID_SALT=STRONG_SALT,
            JIANFU_AUDIT_KEY=STRONG_AUDIT_KEY,
        ),
    )
    assert proc.returncode != 0, f"mask key {name!r} accepted outside dev"
    assert not _products_written(published), f"mask key {name!r}: products written before refusing"


def test_strong_key_is_accepted_outside_dev(world, tmp_path) -> None:
    """Control: outside dev, random 64-hex-digit keys (mask, audit) and a person-id salt publish normally
    (the refusals above are about the key, not a broken harness)."""
    warehouse = _warehouse_copy(world, tmp_path / "w")
    published = tmp_path / "published"
    env = _env(world, warehouse, JIANFU_MASK_KEY=STRONG_MASK_KEY, JIANFU_PERSON_ID_SALT=STRONG_SALT,
               JIANFU_AUDIT_KEY=STRONG_AUDIT_KEY)  # fmt: skip
    proc = _publish_city(world, warehouse, published, env)
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert _products_written(published)
    city = support.visible_products(published)[("city", "31")]
    with duckdb.connect(str(city), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM _product").fetchall()[0][0] == 1


def test_audit_key_equal_to_mask_key_is_refused(world, tmp_path) -> None:
    """Attack: outside dev, set the audit chain's key (README: JIANFU_AUDIT_KEY) to the mask key — whoever
    holds the mask key for publishing could then re-chain an edited audit. Property: refused, nothing
    written (issue 9: "HMAC with a key separate from the mask key")."""
    warehouse = _warehouse_copy(world, tmp_path / "w")
    published = tmp_path / "published"
    env = _env(world, warehouse, JIANFU_MASK_KEY=STRONG_MASK_KEY, JIANFU_PERSON_ID_SALT=STRONG_SALT,
               JIANFU_AUDIT_KEY=STRONG_MASK_KEY)  # fmt: skip
    proc = _publish_city(world, warehouse, published, env)
    assert proc.returncode != 0, "an audit key equal to the mask key was accepted"
    assert not _products_written(published)
