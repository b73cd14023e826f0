"""Dagster wiring for the reference data."""

import dagster as dg

from assets.common.meta import table_metadata
from assets.common.resources import WAREHOUSE_POOL, WarehouseResource
from assets.common.warehouse import replace_table
from assets.reference.divisions import load_divisions


@dg.asset(
    key=["core", "divisions"],
    group_name="reference",
    kinds={"polars", "duckdb"},
    owners=["team:jianfu-data"],
    pool=WAREHOUSE_POOL,
    description="Shanghai's 6,509 residential and village committees with their township and district "
    "(NBS 12-digit codes, 2023). Every row filter by jurisdiction is a prefix of these codes.",
)
def divisions(warehouse: WarehouseResource) -> dg.MaterializeResult:
    frame = load_divisions()
    with warehouse.connect() as con:
        replace_table(con, "core.divisions", frame)
        return dg.MaterializeResult(
            metadata={
                **table_metadata(con, "core.divisions"),
                "districts": frame["district_code"].n_unique(),
                "townships": frame["township_code"].n_unique(),
            }
        )


ASSETS = [divisions]
CHECKS: list = []

# This domain's definitions: pipelines/definitions.py autoloads them with dg.load_from_defs_folder.
defs = dg.Definitions(assets=ASSETS, asset_checks=CHECKS)
