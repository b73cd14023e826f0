"""Dagster wiring for publishing: per-principal products, the denials report, the audit, two blocking checks."""

import os
from pathlib import Path

import dagster as dg
import polars as pl

from assets.common.checks import check_result
from assets.common.meta import table_metadata
from assets.common.warehouse import markdown_preview
from assets.publish import leakscan, manifest, run
from assets.publish.policy import Tier, load_policy
from pipelines.resources import WAREHOUSE_POOL, WarehouseResource

OWNERS = ["team:jianfu-data"]
GROUP = "publishing"
PRODUCTS_KEY = dg.AssetKey(["published", "products"])
DENIALS_KEY = dg.AssetKey(["publish", "denials"])
MANIFEST_KEY = dg.AssetKey(["audit", "publication_manifest"])


def _source_assets() -> list[dg.AssetKey]:
    """Every table a dataset in schemas/policy/datasets.yaml reads, so products are built after their sources
    (a source not materialized yet is skipped by the run and reported as a denial)."""
    policy = load_policy(run.POLICY_DIR, run.DICTIONARY)
    tables = {src.table for ds in policy.datasets.values() for src in ds.sources if src.table}
    tables |= {"staging.form_values", "catalog.form_fields"}  # value classification reads the field mapping
    return [dg.AssetKey(t.split(".")) for t in sorted(tables)]


UPSTREAM = _source_assets()


class PublishResource(dg.ConfigurableResource):
    """Publishing settings. Secrets are read at run time: set `mask_key=dg.EnvVar("JIANFU_MASK_KEY")`, or
    leave it empty to read JIANFU_MASK_KEY from the run's environment (JIANFU_ENV=dev allows the documented
    dev key). Per-tier product keys come from JIANFU_PRODUCT_KEY_<CITY|DISTRICT|TOWNSHIP|COMMITTEE>."""

    mask_key: str | None = None
    environment: str | None = None
    published_dir: str | None = None
    policy_dir: str = str(run.POLICY_DIR)
    dictionary: str = str(run.DICTIONARY)

    def settings(self, warehouse_path: str) -> run.Settings:
        env = dict(os.environ)  # run time, never import time
        base = run.settings_from(env, warehouse_path, self.published_dir, self.mask_key, self.environment)
        return run.Settings(
            warehouse_path=base.warehouse_path,
            published_dir=base.published_dir,
            mask_key=base.mask_key,
            encryption_keys=base.encryption_keys,
            policy_dir=Path(self.policy_dir),
            dictionary=Path(self.dictionary),
        )

    def product_keys(self) -> dict[Tier, str]:
        """Per-tier product encryption keys from the run's environment (checks need no masking key)."""
        return run.encryption_keys_from(dict(os.environ))

    def directory(self, warehouse_path: str) -> Path:
        return (
            Path(self.published_dir)
            if self.published_dir
            else Path(warehouse_path).resolve().parent / "published"
        )


RESOURCES = {"publish": PublishResource()}


def _findings_frame(report: leakscan.LeakReport) -> pl.DataFrame:
    schema = {"product": pl.String, "table": pl.String, "column": pl.String, "kind": pl.String,
              "detail": pl.String, "count": pl.Int64, "example": pl.String}  # fmt: skip
    rows = [(f.product, f.table, f.column, f.kind, f.detail, f.count, f.example) for f in report.findings]
    return pl.DataFrame(rows, schema=schema, orient="row")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(PRODUCTS_KEY, group_name=GROUP, kinds={"duckdb"}, owners=OWNERS, deps=UPSTREAM,
                     description="One DuckDB file per principal (city, district, township, committee) under "
                     "warehouse/published/, holding only the rows of its jurisdiction and only the columns its "
                     "tier may see, masked per schemas/policy. DuckDB has no GRANT: the file is the boundary."),
        dg.AssetSpec(DENIALS_KEY, group_name=GROUP, kinds={"duckdb"}, owners=OWNERS, deps=[PRODUCTS_KEY],
                     description="What the last publication did not publish, and why (unclassified column, no "
                     "rule, 不予共享, hidden by a rule, rows without a jurisdiction, skipped dataset)."),
        dg.AssetSpec(MANIFEST_KEY, group_name=GROUP, kinds={"duckdb"}, owners=OWNERS, deps=[PRODUCTS_KEY],
                     description="Append-only publication manifest: run, time, policy version, principal, "
                     "tables, each column's treatment, row counts and the product's sha256."),
    ],
    pool=WAREHOUSE_POOL,
    name="publish_products",
)  # fmt: skip
def publish_products(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, publish: PublishResource
):
    """Build every product from the read-only warehouse, leak-scan, swap in, then append the audit."""
    settings = publish.settings(warehouse.path)
    result = run.publish_and_record(settings, run_id=context.run_id)
    if not result.swapped:
        raise dg.Failure(
            description=f"{result.scan.summary()}; no product was replaced",
            metadata={"findings": dg.MetadataValue.md(markdown_preview(_findings_frame(result.scan), 20))},
        )
    by_tier = result.counts_by_tier()
    products = manifest.products_frame(result)
    yield dg.MaterializeResult(
        asset_key=PRODUCTS_KEY,
        metadata={
            "product_count": dg.MetadataValue.int(result.product_count),
            **{f"products_{tier}": dg.MetadataValue.int(n) for tier, n in sorted(by_tier.items())},
            "publish_seconds": dg.MetadataValue.float(round(result.seconds, 2)),
            "scan_seconds": dg.MetadataValue.float(round(result.scan_seconds, 2)),
            "policy_version": dg.MetadataValue.text(result.policy_version),
            "mask_key_fingerprint": dg.MetadataValue.text(
                f"{result.mask_key_fingerprint} ({result.mask_key_source})"
            ),
            "leak_scan": dg.MetadataValue.text(result.scan.summary()),
            "datasets_published": dg.MetadataValue.text(", ".join(result.bound)),
            "retired_products": dg.MetadataValue.int(len(result.retired)),
            "published_dir": dg.MetadataValue.path(str(settings.published_dir)),
            "products": dg.MetadataValue.md(markdown_preview(products, len(products) or 1)),
        },
    )
    with warehouse.connect(read_only=True) as con:
        yield dg.MaterializeResult(
            asset_key=DENIALS_KEY, metadata=table_metadata(con, manifest.DENIALS_TABLE)
        )
        yield dg.MaterializeResult(
            asset_key=MANIFEST_KEY,
            metadata={
                **table_metadata(
                    con, manifest.MANIFEST_TABLE, where_sql=f"run_id = '{result.run_id}'",
                    preview_sql=f"SELECT principal, table_name, row_count, product_sha256 FROM {manifest.MANIFEST_TABLE} "
                    f"WHERE run_id = '{result.run_id}' ORDER BY principal, table_name LIMIT 10",
                ),
                "run_id": dg.MetadataValue.text(result.run_id),
                "jsonl": dg.MetadataValue.path(str(manifest.audit_dir(settings.published_dir) / manifest.MANIFEST_JSONL)),
            },
        )  # fmt: skip


@dg.asset_check(asset=PRODUCTS_KEY, blocking=True, pool=WAREHOUSE_POOL,
                description="Exhaustive leak scan of every published product: no row outside its jurisdiction, no "
                "source ID / phone / full name in clear outside columns allowed to show it, no unclassified column.")  # fmt: skip
def leak_scan(warehouse: WarehouseResource, publish: PublishResource) -> dg.AssetCheckResult:
    policy = load_policy(publish.policy_dir, publish.dictionary)
    report = leakscan.scan_published(
        warehouse.path, publish.directory(warehouse.path), policy, publish.product_keys()
    )
    return check_result(
        what=f"leak scan of {report.products} products ({report.cells:,} distinct text cells)",
        failing=_findings_frame(report),
        total=report.tables,
        extra={
            "summary": dg.MetadataValue.text(report.summary()),
            "source_values": dg.MetadataValue.json(report.tokens),
        },  # fmt: skip
    )


@dg.asset_check(asset=PRODUCTS_KEY, blocking=True, pool=WAREHOUSE_POOL,
                description="Deny by default: every published column has a classification and a treatment, and "
                "every source column that was not published is in publish.denials with its reason.")  # fmt: skip
def deny_by_default(warehouse: WarehouseResource, publish: PublishResource) -> dg.AssetCheckResult:
    policy = load_policy(publish.policy_dir, publish.dictionary)
    violations, gaps, total = leakscan.deny_by_default_report(
        warehouse.path, publish.directory(warehouse.path), policy, publish.product_keys()
    )
    if violations.height:
        return check_result(what="columns published without a decision, or dropped silently", failing=violations,
                            total=total)  # fmt: skip
    return check_result(
        what="policy gaps (a column nobody classified, or no rule for a tier) — denied, please decide",
        failing=gaps,
        total=total,
        severity=dg.AssetCheckSeverity.WARN,
    )


ASSETS = [publish_products]
CHECKS = [leak_scan, deny_by_default]
