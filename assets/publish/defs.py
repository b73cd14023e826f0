"""Dagster wiring for publishing: per-principal products, the denials report, the audit, three blocking checks.

Nothing is read at import time: the policy YAML is loaded by the asset and the checks when they run, so a bad
rule fails the publishing assets, not the code location. Settings come through `PublishResource` (`dg.EnvVar`).
"""

from pathlib import Path

import dagster as dg
import polars as pl

from assets.common.checks import check_result
from assets.common.meta import table_metadata
from assets.common.resources import WAREHOUSE_POOL, WarehouseResource
from assets.common.warehouse import markdown_preview
from assets.publish import checks, leakscan, manifest, run
from assets.publish.policy import load_policy
from assets.publish.types import TIER_CODES, Tier

OWNERS = ["team:jianfu-data"]
GROUP = "publishing"
PRODUCTS_KEY = dg.AssetKey(["published", "products"])
DENIALS_KEY = dg.AssetKey(["publish", "denials"])
MANIFEST_KEY = dg.AssetKey(["audit", "publication_manifest"])

# Every table a source of schemas/policy/datasets.yaml reads, so products are built after their sources. Static
# (the policy is not read at import time); tests/publish/test_defs.py fails when datasets.yaml reads another table.
UPSTREAM = [dg.AssetKey(t.split(".")) for t in (
    "catalog.form_fields", "catalog.forms", "core.divisions", "core.person_records", "core.persons",
    "marts.burden_by_committee", "marts.burden_by_district", "marts.burden_by_township", "marts.form_plan",
    "marts.prefill_plan", "reflow.prefill_cells", "staging.form_records", "staging.form_values",
)]  # fmt: skip


def _env(value: str | None, name: str) -> str | None:
    """An explicitly configured value (e.g. `dg.EnvVar(name)`), else the variable itself, read at run time."""
    return value if value is not None else dg.EnvVar(name).get_value()


class PublishResource(dg.ConfigurableResource):
    """Publishing settings, resolved at run time. Configure with `dg.EnvVar` (e.g.
    `PublishResource(mask_key=dg.EnvVar("JIANFU_MASK_KEY"), audit_key=dg.EnvVar("JIANFU_AUDIT_KEY"))`); a field
    left empty reads the variable of the same name through `dg.EnvVar(...).get_value()` when the run starts.
    JIANFU_ENV=dev (exactly) allows the documented dev keys. Product keys: JIANFU_PRODUCT_KEY_<TIER>."""

    mask_key: str | None = None
    audit_key: str | None = None
    environment: str | None = None
    published_dir: str | None = None
    heads_dir: str | None = None
    policy_dir: str = str(run.POLICY_DIR)
    dictionary: str = str(run.DICTIONARY)

    def product_keys(self) -> dict[Tier, str]:
        """Per-tier product encryption keys (checks need no masking key)."""
        names = {f"JIANFU_PRODUCT_KEY_{code.upper()}": dg.EnvVar(f"JIANFU_PRODUCT_KEY_{code.upper()}").get_value()
                 for code in TIER_CODES.values()}  # fmt: skip
        return run.encryption_keys_from({k: v for k, v in names.items() if v})

    def settings(self, warehouse_path: str) -> run.Settings:
        env = {f"JIANFU_PRODUCT_KEY_{t.upper()}": k for t, k in
               ((TIER_CODES[tier], key) for tier, key in self.product_keys().items())}  # fmt: skip
        base = run.settings_from(
            env, warehouse_path, self.published_dir,
            mask_key=_env(self.mask_key, "JIANFU_MASK_KEY") or None,
            environment=_env(self.environment, "JIANFU_ENV") or "",
            audit_key=_env(self.audit_key, "JIANFU_AUDIT_KEY") or None,
        )  # fmt: skip
        return run.Settings(
            warehouse_path=base.warehouse_path, published_dir=base.published_dir, mask_key=base.mask_key,
            encryption_keys=base.encryption_keys, policy_dir=Path(self.policy_dir), dictionary=Path(self.dictionary),
            audit_key=base.audit_key, heads_dir=Path(self.heads_dir) if self.heads_dir else None,
        )  # fmt: skip

    def audit(self, warehouse_path: str) -> manifest.AuditSettings:
        from assets.publish.keys import resolve_audit_key

        key = resolve_audit_key(_env(self.audit_key, "JIANFU_AUDIT_KEY") or None,
                                _env(self.environment, "JIANFU_ENV") or "")  # fmt: skip
        return manifest.audit_settings(self.directory(warehouse_path), key.key, self.heads_dir)

    def directory(self, warehouse_path: str) -> Path:
        return Path(self.published_dir) if self.published_dir else run.default_published(warehouse_path)


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
                     "rule, 不予共享, sensitive roster, re-identification risk, k-anonymity generalization, …)."),
        dg.AssetSpec(MANIFEST_KEY, group_name=GROUP, kinds={"duckdb"}, owners=OWNERS, deps=[PRODUCTS_KEY],
                     description="Append-only publication manifest (keyed-hash chained): run, generation, policy "
                     "version, principal, tables, each column's treatment, row counts and the product's sha256."),
    ],
    pool=WAREHOUSE_POOL,
    name="publish_products",
)  # fmt: skip
def publish_products(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, publish: PublishResource
):
    """Verify the audit, build a generation from the read-only warehouse (each product leak-scanned as written),
    record it, switch to it, then append the audit."""
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
            "carried_unchanged": dg.MetadataValue.int(result.carried),
            "updated_from_pieces": dg.MetadataValue.int(result.pieced),
            "written_and_scanned": dg.MetadataValue.int(result.product_count - result.carried),
            "phase_seconds": dg.MetadataValue.json({k: round(v, 2) for k, v in result.phases.items()}),
            "generation": dg.MetadataValue.text(result.generation),
            "publish_seconds": dg.MetadataValue.float(round(result.seconds, 2)),
            "scan_seconds": dg.MetadataValue.float(round(result.scan_seconds, 2)),
            "policy_version": dg.MetadataValue.text(result.policy_version),
            "mask_key_fingerprint": dg.MetadataValue.text(f"{result.mask_key_fingerprint} ({result.mask_key_source})"),
            "leak_scan": dg.MetadataValue.text(result.scan.summary()),
            "datasets_published": dg.MetadataValue.text(", ".join(result.bound)),
            "retired_products": dg.MetadataValue.int(len(result.retired)),
            "published_dir": dg.MetadataValue.path(str(settings.published_dir)),
            "products": dg.MetadataValue.md(markdown_preview(products, len(products) or 1)),
        },
    )  # fmt: skip
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
                description="The products readers see are exactly the current generation's, byte for byte, and each "
                "was leak-scanned clean when written (no row outside its jurisdiction, no source ID / phone / full name "
                "in clear, no sensitive roster row below its tier, no unclassified column).")  # fmt: skip
def leak_scan(warehouse: WarehouseResource, publish: PublishResource) -> dg.AssetCheckResult:
    problems, n = checks.verify_generation(publish.directory(warehouse.path))
    failing = pl.DataFrame({"problem": problems}, schema={"problem": pl.String})
    return check_result(what=f"generation check of {n} products (scanned once, as written)", failing=failing,
                        total=max(n, 1))  # fmt: skip


@dg.asset_check(asset=PRODUCTS_KEY, blocking=True, pool=WAREHOUSE_POOL,
                description="Deny by default: every published column has a classification and a treatment, and "
                "every source column that was not published is in publish.denials with its reason.")  # fmt: skip
def deny_by_default(warehouse: WarehouseResource, publish: PublishResource) -> dg.AssetCheckResult:
    policy = load_policy(publish.policy_dir, publish.dictionary)
    violations, gaps, total = checks.deny_by_default_report(
        warehouse.path, publish.directory(warehouse.path), policy, publish.product_keys()
    )
    if violations.height:
        return check_result(what="columns published without a decision, or dropped silently", failing=violations,
                            total=total)  # fmt: skip
    return check_result(what="policy gaps (a column nobody classified, or no rule for a tier) — denied, please decide",
                        failing=gaps, total=total, severity=dg.AssetCheckSeverity.WARN)  # fmt: skip


@dg.asset_check(asset=MANIFEST_KEY, blocking=True, pool=WAREHOUSE_POOL,
                description="`jianfu audit verify`: the keyed-hash chains (manifest, query log) are intact — no edit, "
                "dropped tail or deleted file — and the warehouse audit tables match them row for row.")  # fmt: skip
def audit_chain(warehouse: WarehouseResource, publish: PublishResource) -> dg.AssetCheckResult:
    problems = manifest.verify_all(publish.audit(warehouse.path), warehouse.path)
    failing = pl.DataFrame({"problem": problems}, schema={"problem": pl.String})
    return check_result(what="audit chain and warehouse copy", failing=failing, total=2)


ASSETS = [publish_products]
CHECKS = [leak_scan, deny_by_default, audit_chain]

# This domain's definitions: pipelines/definitions.py autoloads them with dg.load_from_defs_folder.
defs = dg.Definitions(assets=ASSETS, asset_checks=CHECKS, resources=RESOURCES)
