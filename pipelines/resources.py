"""Dagster resources: where the warehouse, the landing zone and the published products live."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from assets.common import paths, warehouse


class WarehouseResource(dg.ConfigurableResource):
    """The engineers' DuckDB warehouse. One writer at a time: every writing asset uses pool `warehouse`."""

    path: str = str(paths.DEFAULT_WAREHOUSE)
    memory_limit: str = warehouse.DEFAULT_MEMORY_LIMIT  # DuckDB spills to disk beyond this

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.connect(self.path, read_only=read_only, memory_limit=self.memory_limit) as con:
            yield con

    @property
    def published_dir(self) -> Path:
        return Path(self.path).resolve().parent / "published"


class LandingResource(dg.ConfigurableResource):
    """Root of the landing zone: `<root>/<district>/<form>/<period>/<file>` plus `<root>/catalog/`."""

    root: str = str(paths.SAMPLE_LANDING)


WAREHOUSE_POOL = "warehouse"
