"""Dagster wiring for ingestion: the form catalog, then each district's landing folder."""

import datetime as dt
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import polars as pl
from dagster._core.errors import DagsterInvalidPropertyError  # not exported at the top level

from assets.common.checks import check_result
from assets.common.expectations import load_suite_json, suite_columns
from assets.common.meta import table_metadata
from assets.common.resources import WAREHOUSE_POOL, LandingResource, WarehouseResource
from assets.common.warehouse import markdown_preview, read_frame, replace_table
from assets.ingest import accounting, district_pool, pipeline, store_views, suite_chunks
from assets.ingest.catalog import Catalog, load_catalog
from assets.ingest.parquet_store import DistrictStore
from assets.ingest.rules import load_delivery_rules
from pipelines.partitions import district_partitions

OWNERS = ["team:jianfu-data"]
CATALOG_KEYS = {
    "forms": dg.AssetKey(["catalog", "forms"]),
    "fields": dg.AssetKey(["catalog", "form_catalog_fields"]),
    "problems": dg.AssetKey(["quarantine", "catalog_problems"]),
}
INGEST_KEYS = {
    "raw.landing_files": dg.AssetKey(["raw", "landing_files"]),
    "staging.form_records": dg.AssetKey(["staging", "form_records"]),
    "staging.form_values": dg.AssetKey(["staging", "form_values"]),
    "quarantine.rows": dg.AssetKey(["quarantine", "rows"]),
    "raw.skipped_rows": dg.AssetKey(["raw", "skipped_rows"]),
    "raw.replaced_rows": dg.AssetKey(["raw", "replaced_rows"]),
}
INGEST_DESCRIPTIONS = {
    "raw.landing_files": "Every file under the landing root: hash, place, encoding, status (ingested / rejected / "
    "superseded / duplicate / ignored) with its reason, the file that replaced it, the committees it carries, and "
    "its row accounting (read = staged + quarantined + skipped + replaced).",
    "staging.form_records": "One row per usable data row, with lineage (file, sheet, row, hash, run), the committee's "
    "12-digit code, the cleaned name and ID (15-digit IDs converted, check digit validated) and doubt flags.",
    "staging.form_values": "Every field of every staged row: the value as delivered beside its normalized form "
    "(NFKC, ISO dates, 18-digit IDs, 11-digit phones) and why a value could not be normalized.",
    "quarantine.rows": "Rows that cannot be used (no identifier, a required value of the wrong type, an unknown "
    "committee), each with a reason code and a message naming the file, row and field.",
    "raw.skipped_rows": "Non-data rows (title, header, blank, 合计, 填表人 footer) with their reason, so they are counted.",
    "raw.replaced_rows": "Data rows another delivery replaced (a correction, the same bytes, the committee's own "
    "file for rows a roll-up repeats), each naming the replacing file, so they are counted once.",
}


STORE_KEY = dg.AssetKey(["staging", "ingest_store"])
STORE_DESCRIPTION = ("Each district's ingestion tables as Parquet, one folder (generation) per district swapped in "
                     "whole (<warehouse dir>/staging/ingest/<district>/): districts are written by parallel "
                     "processes without the warehouse's write lock. The warehouse reads them through views.")  # fmt: skip
VIEW_NOTE = " A view over each district's current Parquet file (staging.ingest_store)."


class IngestConfig(dg.Config):
    full_refresh: bool = False  # read every file again even when its content and the parser are unchanged
    workers: int = 0  # processes ingesting districts at once; 0 = one per core


@dg.multi_asset(
    specs=[
        dg.AssetSpec(CATALOG_KEYS["forms"], description="The form catalog (报表目录): one row per form with its "
                     "issuing department, level, frequency and target committees.", group_name="ingestion",
                     kinds={"polars", "duckdb"}, owners=OWNERS),
        dg.AssetSpec(CATALOG_KEYS["fields"], description="Each form's fields as the catalog lists them: order, "
                     "label, type and whether required.", group_name="ingestion", kinds={"polars", "duckdb"},
                     owners=OWNERS),
        dg.AssetSpec(CATALOG_KEYS["problems"], description="Catalog rows that could not be used, with the reason.",
                     group_name="ingestion", kinds={"polars", "duckdb"}, owners=OWNERS),
    ],
    pool=WAREHOUSE_POOL,
)  # fmt: skip
def form_catalog(landing: LandingResource, warehouse: WarehouseResource):
    """Read the delivered catalog; a bad row is recorded, never silently dropped."""
    catalog = load_catalog(Path(landing.root))
    with warehouse.connect() as con:
        for key, frame in (("catalog.forms", catalog.forms), ("catalog.form_catalog_fields", catalog.fields),
                           ("quarantine.catalog_problems", catalog.problems)):  # fmt: skip
            replace_table(con, key, frame)
        yield dg.MaterializeResult(
            asset_key=CATALOG_KEYS["forms"],
            metadata={
                **table_metadata(con, "catalog.forms"),
                "departments": catalog.forms["department"].n_unique(),
            },
        )
        yield dg.MaterializeResult(asset_key=CATALOG_KEYS["fields"],
                                   metadata=table_metadata(con, "catalog.form_catalog_fields"))  # fmt: skip
        yield dg.MaterializeResult(asset_key=CATALOG_KEYS["problems"],
                                   metadata=table_metadata(con, "quarantine.catalog_problems"))  # fmt: skip


@dg.multi_asset(
    name="district_files",
    specs=[dg.AssetSpec(STORE_KEY, description=STORE_DESCRIPTION, group_name="ingestion", kinds={"polars", "parquet"},
                        owners=OWNERS, deps=[dg.AssetKey(["core", "divisions"]), *CATALOG_KEYS.values()])],
    partitions_def=district_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    # No pool: each district writes its own Parquet folder, so districts run in parallel processes.
)  # fmt: skip
def district_files(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    landing: LandingResource,
    warehouse: WarehouseResource,
):
    """Mirror each selected district's landing folder into its Parquet generation (unchanged files are not re-read)."""
    districts = list(context.partition_keys)
    run_id = context.run.run_id
    totals: dict[str, int] = {}
    with warehouse.connect(read_only=True) as con:  # the catalog and divisions, read once; no write lock
        catalog = Catalog(
            forms=read_frame(con, "SELECT * FROM catalog.forms"),
            fields=read_frame(con, "SELECT * FROM catalog.form_catalog_fields"),
            problems=pl.DataFrame(),
        )
        divisions = read_frame(con, "SELECT * FROM core.divisions")
    ctx = pipeline.IngestContext.build(catalog, divisions)
    store = DistrictStore.beside(warehouse.path)
    as_of = dt.datetime.now(dt.UTC).date()  # the run date: the latest birth date an ID may encode
    # one process per core, one district per task (assets/ingest/district_pool.py)
    results = district_pool.ingest_districts(store, Path(landing.root), districts, ctx, run_id,
                                             full_refresh=config.full_refresh, as_of=as_of,
                                             workers=config.workers)  # fmt: skip
    for result in results:
        context.log.info(f"district {result.district_code}: {result}")
        for name, value in vars(result).items():
            if isinstance(value, int):
                totals[name] = totals.get(name, 0) + value
    unplaced = pipeline.record_unplaced_to_store(store, Path(landing.root), ctx, run_id)
    if unplaced:
        context.log.warning(f"{unplaced} file(s) or folder(s) outside any district folder: see raw.landing_files "
                            "WHERE district_code IS NULL")  # fmt: skip
    totals["files_unplaced"] = unplaced
    generations = {d: g.name for d in districts if (g := store.current(d)) is not None}
    metadata = {
        "this_run": dg.MetadataValue.md(markdown_preview(pl.DataFrame([vars(r) for r in results]), 20)),
        "store": dg.MetadataValue.path(str(store.root)),
        "generations": dg.MetadataValue.json(generations),
        **{f"run_{k}": dg.MetadataValue.int(v) for k, v in totals.items()},
    }
    return dg.MaterializeResult(asset_key=STORE_KEY, metadata=metadata)


@dg.multi_asset(
    name="ingest_views",
    specs=[
        dg.AssetSpec(key, description=INGEST_DESCRIPTIONS[table] + VIEW_NOTE, group_name="ingestion",
                     kinds={"duckdb", "parquet"}, owners=OWNERS, deps=[STORE_KEY])
        for table, key in INGEST_KEYS.items()
    ],
    partitions_def=district_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,  # the one ingestion step that writes the DuckDB file: milliseconds
)  # fmt: skip
def ingest_views(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Point the warehouse's ingestion views at every district's current Parquet files."""
    districts = list(context.partition_keys)
    with warehouse.connect() as con:
        listed = store_views.refresh_views(con, DistrictStore.beside(warehouse.path))
        context.log.info(f"views list {len(listed)} district generation(s)")
        in_run = "district_code IN (" + ",".join(f"'{d}'" for d in districts) + ")"
        for table, key in INGEST_KEYS.items():
            metadata = table_metadata(con, table, where_sql=in_run)
            if table == "quarantine.rows":
                reasons = read_frame(con, f"SELECT reason_code, count(*) AS n FROM quarantine.rows WHERE {in_run} "
                                          "GROUP BY ALL ORDER BY n DESC")  # fmt: skip
                metadata["by_reason"] = dg.MetadataValue.md(markdown_preview(reasons, 20))
            yield dg.MaterializeResult(asset_key=key, metadata=metadata)


# ------------------------------------------------------------------------------------------------ checks
# Checks read the districts of their run from the Parquet store (all districts when run on their own), through
# an in-memory DuckDB with the same views: no warehouse lock, and no re-validation of untouched districts.
def _run_districts(context: dg.AssetCheckExecutionContext) -> list[str] | None:
    """The district partitions of the check's run; None (every district) outside a partitioned run."""
    try:
        tags = context.run.tags
    except DagsterInvalidPropertyError:  # invoked directly, outside a run: every district
        return None
    keys = district_partitions.get_partition_keys()
    if tags.get("dagster/partition") in keys:
        return [tags["dagster/partition"]]
    start, end = (
        tags.get("dagster/asset_partition_range_start"),
        tags.get("dagster/asset_partition_range_end"),
    )
    if start in keys and end in keys:
        return keys[keys.index(start) : keys.index(end) + 1]
    return None


@contextmanager
def _run_tables(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    con = store_views.scratch_connection(DistrictStore.beside(warehouse.path), _run_districts(context))
    try:
        yield con
    finally:
        con.close()


@dg.asset_check(asset=INGEST_KEYS["raw.landing_files"], blocking=True,
                description="Per file, rows read = staged + quarantined + skipped + replaced: no row is lost or "
                            "counted twice.")  # fmt: skip
def row_accounting(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    with _run_tables(context, warehouse) as con:
        per_file = accounting.file_accounting(con)
    failing = per_file.filter(pl.col("unaccounted") != 0)
    return check_result(what="files whose rows do not add up", failing=failing, total=per_file.height,
                        extra={"rows_read": dg.MetadataValue.int(int(per_file["rows_read"].sum() or 0))})  # fmt: skip


@dg.asset_check(asset=INGEST_KEYS["raw.landing_files"], blocking=True,
                description="Landing level: every file under the landing root is registered with a status, and "
                            "the rows of all files add up (read = staged + quarantined + skipped + replaced).")  # fmt: skip
def landing_accounting(
    context: dg.AssetCheckExecutionContext, landing: LandingResource, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        divisions = read_frame(con, "SELECT DISTINCT district_code, district_name FROM core.divisions")
    with _run_tables(context, warehouse) as con:
        missing, totals = accounting.landing_accounting(
            con, Path(landing.root), dict(divisions.iter_rows()), load_delivery_rules()
        )
    failing = missing.with_columns(pl.lit("not in raw.landing_files").alias("problem"))
    if totals["unaccounted"]:
        failing = pl.concat([failing, pl.DataFrame({"source_file": ["(all files)"], "problem": [
            f"{totals['unaccounted']} rows read are in no table"]})])  # fmt: skip
    return check_result(what="landing files or rows unaccounted for", failing=failing, total=totals["files"],
                        extra={k: dg.MetadataValue.int(v) for k, v in totals.items()})  # fmt: skip


@dg.asset_check(asset=INGEST_KEYS["raw.landing_files"], blocking=True,
                description="No data-bearing file is replaced (superseded, duplicate, roll-up rows) by a file that "
                            "is rejected or stages nothing: that would lose its rows.")  # fmt: skip
def replacements_keep_data(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    with _run_tables(context, warehouse) as con:
        failing = accounting.replacement_problems(con)
        total = con.execute("SELECT count(DISTINCT source_file) FROM raw.replaced_rows").fetchall()[0][0]
    return check_result(
        what="files replaced by a file that keeps none of their data", failing=failing, total=total
    )


@dg.asset_check(asset=INGEST_KEYS["raw.landing_files"],
                description="Rejected files are reported (warning): the run goes on without them.")  # fmt: skip
def rejected_files(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    with _run_tables(context, warehouse) as con:
        total = con.execute("SELECT count(*) FROM raw.landing_files").fetchall()[0][0]
        failing = read_frame(
            con, "SELECT source_file, reason_code, message FROM quarantine.rejected_files ORDER BY 1"
        )
    return check_result(
        what="rejected files", failing=failing, total=total, severity=dg.AssetCheckSeverity.WARN
    )


@dg.asset_check(asset=INGEST_KEYS["quarantine.rows"],
                description="Warns when more than 5% of the data rows are quarantined.")  # fmt: skip
def quarantine_rate(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    with _run_tables(context, warehouse) as con:
        staged = con.execute("SELECT count(*) FROM staging.form_records").fetchall()[0][0]
        failing = read_frame(
            con, "SELECT source_file, row_number, reason_code, message FROM quarantine.rows ORDER BY 1, 2"
        )
    total = staged + failing.height
    return check_result(what="quarantined data rows", failing=failing, total=total,
                        severity=dg.AssetCheckSeverity.WARN, tolerance=int(0.05 * total))  # fmt: skip


def _suite_check(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, suite: str, table: str
) -> dg.AssetCheckResult:
    """Run a GX suite from schemas/expectations/ over the run's districts of the table."""
    columns = sorted(suite_columns(load_suite_json(suite)))
    districts = _run_districts(context)
    # a few districts' files at a time, never the whole table in pandas (assets/ingest/suite_chunks.py)
    files = store_views.run_files(DistrictStore.beside(warehouse.path), table, districts)
    outcome, rows = suite_chunks.run_suite_chunked(suite_chunks.table_chunks(table, files, columns), suite)
    failing = pl.DataFrame(
        [{"expectation": o.expectation, "column": o.column, "unexpected": o.unexpected_count,
          "unexpected_percent": round(o.unexpected_percent, 3), "examples": ", ".join(map(str, o.examples))}
         for o in outcome.failed],
        schema={"expectation": pl.String, "column": pl.String, "unexpected": pl.Int64,
                "unexpected_percent": pl.Float64, "examples": pl.String},
    )  # fmt: skip
    return check_result(
        what=f"expectations of suite {suite} failing on {rows:,} rows",
        failing=failing,
        total=len(outcome.outcomes),
        extra={"rows_validated": dg.MetadataValue.int(rows),
               "districts": dg.MetadataValue.text(", ".join(districts) if districts else "all"),
               "suite": dg.MetadataValue.path(f"schemas/expectations/{suite}.json")},
    )  # fmt: skip


@dg.asset_check(asset=INGEST_KEYS["staging.form_records"], blocking=True,
                description="Great Expectations suite schemas/expectations/staging_form_records.json, over the "
                            "run's districts.")  # fmt: skip
def form_records_expectations(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    return _suite_check(context, warehouse, "staging_form_records", "staging.form_records")


@dg.asset_check(asset=INGEST_KEYS["staging.form_values"], blocking=True,
                description="Great Expectations suite schemas/expectations/staging_form_values.json, over the "
                            "run's districts.")  # fmt: skip
def form_values_expectations(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    return _suite_check(context, warehouse, "staging_form_values", "staging.form_values")


ASSETS = [form_catalog, district_files, ingest_views]
CHECKS = [
    row_accounting,
    landing_accounting,
    replacements_keep_data,
    rejected_files,
    quarantine_rate,
    form_records_expectations,
    form_values_expectations,
]

# This domain's definitions: pipelines/definitions.py autoloads them with dg.load_from_defs_folder.
defs = dg.Definitions(assets=ASSETS, asset_checks=CHECKS)
