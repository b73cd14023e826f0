"""Dagster resources: where the warehouse, the landing zone and the published products live."""

from __future__ import annotations

import os
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


class RunEnvironmentResource(dg.ConfigurableResource):
    """The variables a rule file names (the person-id salt that `identity.salt_env` of the matching spec
    names) and `JIANFU_ENV`, read from the process environment when a step runs, never at import time.
    Pure modules get the mapping passed in; `overrides` (tests, run config) win over the environment."""

    overrides: dict[str, str] = {}

    def environ(self) -> dict[str, str]:
        return {**os.environ, **self.overrides}


class ReflowFoldersResource(dg.ConfigurableResource):
    """Where prefilled workbooks are written and returned files are read (数据回流).

    Both are optional: a blank field falls back, at run time, to `JIANFU_PREFILL_DIR` / `JIANFU_RETURNS`, then
    to `prefill/` / `returns/` beside the warehouse. (`dg.EnvVar` has no default, and an unset one fails every
    run, so the optional variables are read here.) In production point `returns_dir` at the landing root."""

    prefill_dir: str = ""
    returns_dir: str = ""

    def prefill_root(self, warehouse_path: str, override: str = "") -> Path:
        """`override` is the run's own config (ReflowConfig), which wins over the resource."""
        return Path(override or self.prefill_dir or os.environ.get("JIANFU_PREFILL_DIR")
                    or Path(warehouse_path).parent / "prefill")  # fmt: skip

    def returns_root(self, warehouse_path: str, override: str = "") -> Path:
        return Path(override or self.returns_dir or os.environ.get("JIANFU_RETURNS")
                    or Path(warehouse_path).parent / "returns")  # fmt: skip


WAREHOUSE_POOL = "warehouse"


@dg.definitions
def resources() -> dg.Definitions:
    """The shared resources every domain's assets name, bound for the whole code location (autoloaded from
    the defs folder). Paths come from `dg.EnvVar`, resolved when a run starts, never at import time."""
    return dg.Definitions(
        resources={
            "warehouse": WarehouseResource(path=dg.EnvVar("JIANFU_WAREHOUSE")),
            "landing": LandingResource(root=dg.EnvVar("JIANFU_LANDING")),
            # optional JIANFU_PREFILL_DIR / JIANFU_RETURNS, read at run time (see the resource)
            "reflow_folders": ReflowFoldersResource(),
            "run_env": RunEnvironmentResource(),  # the person-id salt and JIANFU_ENV, read at run time
        }
    )
