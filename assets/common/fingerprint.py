"""Input fingerprints: cheap digests that say whether a stage's inputs changed since it last ran.

A stage (ingestion of one district, the forms/persons layer, publishing) is a deterministic function of
its inputs and its code. When the digest of both is the one recorded after its last successful run, and its
outputs are still there, running it again would write the same thing: the nightly run skips it.

Digests are built from what is cheap to read and still exact:
- a landing folder: every file's relative path, size and modification time (a `stat`, no read);
- ingested data: per district, the registry rows of raw.landing_files (file id = place + content hash,
  status, parser version), which determine every staged, quarantined and skipped row of that district;
- small tables (catalog, divisions): their content;
- code and settings: the bytes of the source files and schemas/ files the stage runs with.

The last fingerprint of each stage is kept in the warehouse itself (`ops.stage_fingerprints`), so a
deleted or replaced warehouse never looks up to date. No dagster import: the runner and the Dagster
assets both use this module.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb

from assets.common import paths

STATE_TABLE = "ops.stage_fingerprints"
CATALOG_TABLES = ("core.divisions", "catalog.forms", "catalog.form_catalog_fields")
RETURN_EVIDENCE_TABLES = ("reflow.person_evidence", "reflow.roster_exits")
# Downstream of ingestion: every domain package except ingestion and publishing, so a domain
# added later (e.g. prefilled forms) is covered without editing this list.
NOT_DOWNSTREAM = {"ingest", "publish", "__pycache__"}
DOWNSTREAM_SCHEMAS = ("schemas/data_elements.yaml", "schemas/field_overrides.yaml", "schemas/forms",
                      "schemas/matching")  # fmt: skip
STATE_DDL = f"""
CREATE TABLE IF NOT EXISTS {STATE_TABLE} (
    stage VARCHAR PRIMARY KEY, fingerprint VARCHAR, parts VARCHAR, run_id VARCHAR, recorded_at TIMESTAMP
)
"""


def digest(*parts: object) -> str:
    """A short, stable digest of strings, numbers, and (sorted) mappings of them."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, Mapping):
            part = json.dumps(part, sort_keys=True, default=str)
        h.update(str(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:20]


def keyed(secret: str) -> str:
    """A digest of a secret that can be stored: keyed, so it cannot be checked against guesses offline."""
    return hmac.new(secret.encode(), b"jianfu-stage-fingerprint", hashlib.sha256).hexdigest()[:12]


def folder_fingerprint(folder: Path) -> str:
    """Changes whenever a file is added, removed, rewritten or touched under `folder` (stat only).

    One `os.scandir` walk (the digest `sorted(folder.rglob("*"))` gave, ~4x faster: the stat walk is most of a
    night with nothing new). Symlinked folders are not followed, as rglob does not."""
    entries: list[tuple[tuple[str, ...], int, int]] = []

    def walk(directory: str, rel: tuple[str, ...]) -> None:
        with os.scandir(directory) as it:
            for entry in it:
                if entry.is_dir() and not entry.is_symlink():
                    walk(entry.path, (*rel, entry.name))
                elif entry.is_file():
                    stat = entry.stat()
                    entries.append(((*rel, entry.name), stat.st_size, stat.st_mtime_ns))

    h = hashlib.sha256()
    if folder.is_dir():
        walk(str(folder), ())
        for parts, size, mtime in sorted(entries):  # path order by parts, as sorting Path objects does
            h.update(f"{'/'.join(parts)}|{size}|{mtime}\n".encode())
    return h.hexdigest()[:20]


def code_fingerprint(items: Iterable[str | Path]) -> str:
    """Digest of source and settings files: a folder counts with every .py/.yaml/.json/.csv file below it.

    Relative names are resolved against the project root, so the digest does not depend on the checkout's
    location."""
    h = hashlib.sha256()
    for item in items:
        root = Path(item) if Path(item).is_absolute() else paths.PROJECT_ROOT / item
        files = (
            sorted(p for p in root.rglob("*") if p.suffix in {".py", ".yaml", ".yml", ".json", ".csv"})
            if root.is_dir()
            else [root]
        )
        for path in files:
            if path.is_file() and "__pycache__" not in path.parts:
                h.update(str(path.relative_to(paths.PROJECT_ROOT)).encode())
                h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:20]


def _table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, table = qualified.split(".")
    return bool(
        con.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()
    )


def tables_exist(con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> bool:
    return all(_table_exists(con, t) for t in tables)


def table_content(con: duckdb.DuckDBPyConnection, qualified: str) -> str:
    """Digest of a small table's whole content (order-independent); 'absent' when it does not exist."""
    if not _table_exists(con, qualified):
        return "absent"
    n, h = con.execute(f"SELECT count(*), bit_xor(hash(t)) FROM {qualified} t").fetchall()[0]
    return f"{n}:{h}"


def district_registry(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Per district, a digest of what is ingested: the registry rows of its files (id, status, version).

    The staged, quarantined and skipped rows of a district are a function of these rows (and the
    catalog), so an unchanged digest means unchanged ingested data."""
    if not _table_exists(con, "raw.landing_files"):
        return {}
    rows = con.execute(
        "SELECT district_code, count(*), bit_xor(hash(file_id, status, ingest_version, reason_code)) "
        "FROM raw.landing_files GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return {str(d): f"{n}:{h}" for d, n, h in rows}


def downstream_code() -> tuple[str, ...]:
    root = paths.PROJECT_ROOT / "assets"
    domains = sorted(
        f"assets/{p.name}" for p in root.iterdir() if p.is_dir() and p.name not in NOT_DOWNSTREAM
    )
    return (*domains, *DOWNSTREAM_SCHEMAS)


def downstream_inputs(con: duckdb.DuckDBPyConnection, salt: str) -> tuple[str, dict[str, object]]:
    """What every layer between ingestion and publishing is computed from: the ingested data per district,
    the catalog and divisions, the code and schemas of those layers, the person-id salt (keyed digest)."""
    parts: dict[str, object] = {
        "districts": district_registry(con),
        "catalog": {t: table_content(con, t) for t in CATALOG_TABLES},
        # the return flow's evidence (issue 13) is an input of the person layer on the next run
        "returns": {t: table_content(con, t) for t in RETURN_EVIDENCE_TABLES},
        "code": code_fingerprint(downstream_code()),
        "salt": salt,
    }
    return digest(parts), parts


def stored(con: duckdb.DuckDBPyConnection, stages: Iterable[str] | None = None) -> dict[str, str]:
    """The recorded fingerprint of each stage (all stages when `stages` is None)."""
    if not _table_exists(con, STATE_TABLE):
        return {}
    rows = con.execute(f"SELECT stage, fingerprint FROM {STATE_TABLE}").fetchall()
    wanted = None if stages is None else set(stages)
    return {s: f for s, f in rows if wanted is None or s in wanted}


def record(
    con: duckdb.DuckDBPyConnection,
    fingerprints: Mapping[str, str],
    run_id: str = "",
    parts: Mapping | None = None,
) -> None:
    """Remember each stage's fingerprint after it succeeded (upsert, one transaction)."""
    if not fingerprints:
        return
    # operational state, not an audit record: the `audit` schema holds only tamper-evident records
    con.execute("CREATE SCHEMA IF NOT EXISTS ops")
    con.execute(STATE_DDL)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    detail = json.dumps(parts or {}, sort_keys=True, default=str)
    con.executemany(
        f"INSERT OR REPLACE INTO {STATE_TABLE} VALUES (?, ?, ?, ?, ?)",
        [(stage, fp, detail, run_id, now) for stage, fp in fingerprints.items()],
    )


def forget(con: duckdb.DuckDBPyConnection, stages: Iterable[str]) -> None:
    """Drop recorded fingerprints (a failed or partial stage must run again next time)."""
    stages = list(stages)
    if stages and _table_exists(con, STATE_TABLE):
        con.execute(f"DELETE FROM {STATE_TABLE} WHERE stage IN (SELECT unnest(?))", [stages])
