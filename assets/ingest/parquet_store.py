"""Each district's ingestion tables as Parquet files in a folder of its own, swapped in whole (docs/storage.md).

Layout, beside the warehouse file:

    <warehouse dir>/staging/ingest/<district>/CURRENT            name of the current generation (one line)
    <warehouse dir>/staging/ingest/<district>/<generation>/      landing_files.parquet, form_records.parquet, …,
                                                                 generation.json (run id, rows per table)
    <warehouse dir>/staging/ingest/<district>/.lock              held while a generation is written or removed

A writer writes a new generation folder, then replaces CURRENT with `os.replace` (atomic on one file system):
a reader sees the previous generation or the new one, never part of one, and a writer that crashes mid-write
leaves a folder nobody points at (removed by the next writer). Writers of *different* districts share
nothing, so they run in parallel processes without DuckDB's write lock; writers of the *same* district take
the district's lock only to write and swap (milliseconds to a few seconds), and the later one wins.
The warehouse's views (`refresh_views`) list the current files, so a half-written folder is never read.

No dagster import: the assets in assets/ingest/defs.py call this.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

log = logging.getLogger(__name__)

STORE_SUBDIR = Path("staging") / "ingest"
UNPLACED = "_unplaced"  # registry rows of what lies outside every district folder (district_code NULL)
POINTER = "CURRENT"
MANIFEST = "generation.json"

# Each ingestion table: its columns and DuckDB types, in the order the warehouse has always shown them.
TABLES: dict[str, list[tuple[str, str]]] = {
    "raw.landing_files": [
        ("file_id", "VARCHAR"), ("file_hash", "VARCHAR"), ("source_file", "VARCHAR"), ("district_code", "VARCHAR"),
        ("form_code", "VARCHAR"), ("period", "VARCHAR"), ("committee_code", "VARCHAR"), ("file_format", "VARCHAR"),
        ("encoding", "VARCHAR"), ("sheet", "VARCHAR"), ("size_bytes", "BIGINT"), ("status", "VARCHAR"),
        ("reason_code", "VARCHAR"), ("message", "VARCHAR"), ("warnings", "VARCHAR[]"), ("rows_read", "INTEGER"),
        ("rows_staged", "INTEGER"), ("rows_quarantined", "INTEGER"), ("rows_skipped", "INTEGER"),
        ("run_id", "VARCHAR"), ("ingest_version", "VARCHAR"), ("ingested_at", "TIMESTAMP"),
        ("rows_replaced", "INTEGER"), ("replaced_by", "VARCHAR"), ("committees", "VARCHAR[]"),
        ("disposition", "VARCHAR"),
    ],
    "raw.replaced_rows": [
        ("file_id", "VARCHAR"), ("file_hash", "VARCHAR"), ("source_file", "VARCHAR"), ("sheet", "VARCHAR"),
        ("row_number", "INTEGER"), ("district_code", "VARCHAR"), ("committee_code", "VARCHAR"), ("reason", "VARCHAR"),
        ("replaced_by", "VARCHAR"),
    ],
    "staging.form_records": [
        ("record_id", "VARCHAR"), ("file_id", "VARCHAR"), ("file_hash", "VARCHAR"), ("source_file", "VARCHAR"),
        ("sheet", "VARCHAR"), ("row_number", "INTEGER"), ("run_id", "VARCHAR"), ("district_code", "VARCHAR"),
        ("township_code", "VARCHAR"), ("committee_code", "VARCHAR"), ("form_code", "VARCHAR"), ("period", "VARCHAR"),
        ("person_name", "VARCHAR"), ("id_number", "VARCHAR"), ("id_number_raw", "VARCHAR"), ("id_status", "VARCHAR"),
        ("id_birth_date", "DATE"), ("id_sex", "VARCHAR"), ("flags", "VARCHAR[]"),
    ],
    "staging.form_values": [
        ("record_id", "VARCHAR"), ("file_id", "VARCHAR"), ("district_code", "VARCHAR"), ("form_code", "VARCHAR"),
        ("field_order", "INTEGER"), ("field_label", "VARCHAR"), ("header_label", "VARCHAR"), ("field_type", "VARCHAR"),
        ("element_code", "VARCHAR"), ("value_raw", "VARCHAR"), ("value", "VARCHAR"), ("value_flag", "VARCHAR"),
    ],
    "quarantine.rows": [
        ("record_id", "VARCHAR"), ("file_id", "VARCHAR"), ("file_hash", "VARCHAR"), ("source_file", "VARCHAR"),
        ("sheet", "VARCHAR"), ("row_number", "INTEGER"), ("run_id", "VARCHAR"), ("district_code", "VARCHAR"),
        ("form_code", "VARCHAR"), ("period", "VARCHAR"), ("committee_code", "VARCHAR"), ("reason_code", "VARCHAR"),
        ("field", "VARCHAR"), ("message", "VARCHAR"), ("raw_row", "VARCHAR"),
    ],
    "raw.skipped_rows": [
        ("file_id", "VARCHAR"), ("file_hash", "VARCHAR"), ("source_file", "VARCHAR"), ("sheet", "VARCHAR"),
        ("row_number", "INTEGER"), ("district_code", "VARCHAR"), ("reason", "VARCHAR"), ("raw_text", "VARCHAR"),
    ],
}  # fmt: skip
REJECTED_FILES_VIEW = """
CREATE OR REPLACE VIEW quarantine.rejected_files AS
    SELECT file_id, file_hash, source_file, district_code, form_code, period, reason_code, message, rows_read, run_id
    FROM raw.landing_files WHERE status = 'rejected'
"""


def file_name(table: str) -> str:
    """`staging.form_values` → `form_values.parquet` (table names are unique without their layer)."""
    return table.split(".", 1)[1] + ".parquet"


def store_root(warehouse_path: str | Path) -> Path:
    """The store lives beside the warehouse file, so a warehouse and its ingested data move together."""
    return Path(warehouse_path).resolve().parent / STORE_SUBDIR


class BaseChanged(RuntimeError):
    """The generation a district run started from is gone: another run of the district wrote twice since."""


@dataclass(frozen=True)
class Generation:
    """One complete, immutable set of a district's tables."""

    district: str
    folder: Path

    @property
    def name(self) -> str:
        return self.folder.name

    def path(self, table: str) -> Path:
        return self.folder / file_name(table)

    def manifest(self) -> dict:
        try:
            return json.loads((self.folder / MANIFEST).read_text())
        except (OSError, ValueError):
            return {}

    def scan(self, table: str) -> pl.LazyFrame:
        return pl.scan_parquet(self.path(table))


class DistrictStore:
    """The folder of every district's current generation; safe for many processes at once."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @classmethod
    def beside(cls, warehouse_path: str | Path) -> DistrictStore:
        return cls(store_root(warehouse_path))

    # ------------------------------------------------------------------------------------------ reading
    def districts(self) -> list[str]:
        """Districts with a current generation (a district never ingested, or whose folder was removed, has none)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.current(p.name) is not None)

    def current(self, district: str) -> Generation | None:
        """The generation CURRENT names, if it is complete; None otherwise (never ingested, or removed)."""
        pointer = self.root / district / POINTER
        try:
            name = pointer.read_text().strip()
        except FileNotFoundError:
            return None
        folder = self.root / district / name
        if not name or not (folder / MANIFEST).is_file():
            log.warning("%s names %r, which is not a complete generation: district %s reads as empty",
                        pointer, name, district)  # fmt: skip
            return None
        return Generation(district, folder)

    def current_files(self, table: str) -> list[Path]:
        gens = [self.current(d) for d in self.districts()]
        return [g.path(table) for g in gens if g is not None]

    # ------------------------------------------------------------------------------------------ writing
    @contextlib.contextmanager
    def lock(self, district: str) -> Iterator[None]:
        """Exclusive per district, across processes (released by the OS if the holder dies)."""
        folder = self.root / district
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def commit(
        self,
        district: str,
        base: Generation | None,
        keep_ids: list[str],
        frames: Mapping[str, pl.DataFrame],
        run_id: str,
    ) -> Generation:
        """Write a new generation: the base's rows of the kept files plus `frames`, then swap CURRENT to it.

        Raises BaseChanged when the base generation no longer exists (the caller computes again)."""
        with self.lock(district):
            if base is not None and keep_ids and not (base.folder / MANIFEST).is_file():
                raise BaseChanged(f"district {district}: generation {base.name} was replaced meanwhile")
            previous = self.current(district)
            name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            folder = self.root / district / name
            folder.mkdir(parents=True)
            rows: dict[str, int] = {}
            keep = pl.Series("file_id", keep_ids, dtype=pl.String)
            for table in TABLES:
                new = frames.get(table)
                parts = [] if new is None else [new]
                if base is not None and keep_ids:
                    parts.insert(0, base.scan(table).filter(pl.col("file_id").is_in(keep)).collect())
                frame = pl.concat(parts, how="diagonal_relaxed") if parts else empty_frame(table)
                frame.write_parquet(folder / file_name(table))
                rows[table] = frame.height
            _write_durably(folder / MANIFEST, json.dumps({"district": district, "run_id": run_id, "rows": rows,
                                                          "base": base.name if base else None}))  # fmt: skip
            _write_durably(self.root / district / f"{POINTER}.{name}.tmp", name)
            os.replace(self.root / district / f"{POINTER}.{name}.tmp", self.root / district / POINTER)
            # Keep the one replaced (and the base): the warehouse views may list it until they are refreshed.
            self._remove_old(
                district, keep={name, previous.name if previous else "", base.name if base else ""}
            )
            return Generation(district, folder)

    def prune(self, district: str, also_keep: str = "") -> None:
        """Remove every generation but the current one and `also_keep` (what the views were just pointed at)."""
        with self.lock(district):
            current = self.current(district)
            if current is not None:
                self._remove_old(district, keep={current.name, also_keep})

    def _remove_old(self, district: str, keep: set[str]) -> None:
        """Delete generation folders not in `keep` (older ones, and leftovers of crashed writers).

        Called with the district's lock held: no writer of this district is mid-write."""
        for path in (self.root / district).iterdir():
            if path.name.startswith(".") or path.name == POINTER or path.name in keep:
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.name.startswith(f"{POINTER}."):
                path.unlink(missing_ok=True)


def _write_durably(path: Path, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def empty_frame(table: str) -> pl.DataFrame:
    """A table with no rows, typed as the warehouse declares it."""
    con = duckdb.connect()
    try:
        return con.sql(f"SELECT {_casts(table, null=True)} LIMIT 0").pl()
    finally:
        con.close()


def _casts(table: str, null: bool = False) -> str:
    return ", ".join(f"{'NULL' if null else _q(c)}::{t} AS {_q(c)}" for c, t in TABLES[table])


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def select_sql(table: str, files: list[Path]) -> str:
    """The table over exactly these files, typed as declared (no glob: unfinished folders are never read)."""
    if not files:
        return f"SELECT {_casts(table, null=True)} LIMIT 0"
    listed = ", ".join(_literal(f) for f in files)
    return f"SELECT {_casts(table)} FROM read_parquet([{listed}], union_by_name = true)"
