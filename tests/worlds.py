"""One warehouse built from the tiny generated landing zone, shared by the whole test session.

Building it (generate, then two nightly runs) is the most expensive step of several suites; they used to
build it each for themselves. `TinyWorld.build` does it once (tests/conftest.py, fixture `tiny_world`) and
records what those suites asserted about the first two nights. A test that runs the pipeline again or
changes the landing zone does so inside `with tiny_world.mutable():`, which restores the world afterwards.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb


def table_counts(warehouse: Path) -> dict[str, int]:
    """Rows per base table and per ingestion view (the audit schema aside): what a repeated run must leave
    unchanged. The ingestion tables are views over each district's Parquet generation."""
    from assets.ingest.parquet_store import TABLES as INGEST_VIEWS

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = con.sql(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE (table_type = 'BASE TABLE' OR list_contains(?, table_schema || '.' || table_name)) "
            "AND table_schema <> 'audit'",
            params=[list(INGEST_VIEWS)],
        ).fetchall()
        return {t: con.sql(f"SELECT count(*) FROM {t}").fetchall()[0][0] for (t,) in tables}
    finally:
        con.close()


@dataclass(frozen=True)
class TinyWorld:
    """`root` holds the generated landing zone (with its ground truth) and the warehouse, published products,
    prefilled forms and returns built from it by two nights of `runner.run_all`."""

    root: Path
    first: dict[str, float]  # seconds per stage of the first night (the stages that ran)
    learning: dict[str, float]  # the second night: learns once from the simulated returns
    first_tables: dict[str, int]  # table_counts after the first night
    second_tables: dict[str, int]  # … after the second

    @property
    def pristine(self) -> Path:
        return self.root.with_name(self.root.name + "_pristine")

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def warehouse(self) -> Path:
        return self.root / "jianfu.duckdb"

    @classmethod
    def build(cls, root: Path) -> TinyWorld:
        from pipelines import runner
        from synth.generator.cli import main as generate

        saved = {k: os.environ.get(k) for k in ("DAGSTER_HOME", "JIANFU_WAREHOUSE", "JIANFU_LANDING")}
        os.environ.pop("DAGSTER_HOME", None)  # an ephemeral instance: tests never touch .dagster_home
        try:
            assert generate(["--preset", "tiny", "--out", str(root), "--quiet"]) in (0, None)
            warehouse, landing = root / "jianfu.duckdb", root / "landing"
            first = runner.run_all(warehouse, landing)
            first_tables = table_counts(warehouse)
            learning = runner.run_all(warehouse, landing)
            second_tables = table_counts(warehouse)
        finally:
            for key, value in saved.items():  # run_all sets the warehouse and landing variables
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        world = cls(root, first, learning, first_tables, second_tables)
        shutil.copytree(root, world.pristine, symlinks=True)  # what mutable() restores
        return world

    @contextmanager
    def mutable(self) -> Iterator[TinyWorld]:
        """The world at its own path, to run the pipeline on again or to change, restored afterwards.

        The run fingerprints name the landing and published folders by absolute path (a different landing
        zone is a different input), so a copy elsewhere would be new inputs to the runner: instead the
        pristine state is kept beside the world and copied back, modification times included."""
        try:
            yield self
        finally:
            shutil.rmtree(self.root)
            shutil.copytree(self.pristine, self.root, symlinks=True)
