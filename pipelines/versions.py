"""What Dagster needs to show what is stale and why: code versions, landing observations, automation.

- **Code versions.** Every asset gets `code_version` = the digest of the code and schemas/ files its stage
  runs with (the same digests the runner's fingerprints use, pipelines/incremental.py). Change a synonym in
  schemas/field_overrides.yaml and the UI marks the forms and persons assets "code version changed".
- **Landing observations.** `landing/districts` (partitioned by district) and `landing/catalog` are
  observable source assets whose data version is the stat fingerprint of the folder. Ingestion depends on
  them, so after an observation the UI marks exactly the districts whose folder changed as stale
  ("upstream data version changed").
- **Automation.** Observing the landing zone runs on a cron condition; everything downstream of ingestion
  is `eager` (runs once after its inputs were updated, never while they are in progress). The automation
  sensor `nightly_automation` starts stopped, like the schedule and the landing sensor.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import dagster as dg

from assets.common import fingerprint as fp
from assets.common.resources import LandingResource
from pipelines import incremental
from pipelines.partitions import district_partitions

LANDING_DISTRICTS = dg.AssetKey(["landing", "districts"])
LANDING_CATALOG = dg.AssetKey(["landing", "catalog"])
OBSERVE_CRON = "*/15 * * * *"
OWNERS = ["team:jianfu-data"]
warnings.filterwarnings("ignore", message=".*observable_source_asset.*", category=dg.BetaWarning)


@dg.observable_source_asset(
    key=LANDING_DISTRICTS, partitions_def=district_partitions, group_name="landing",
    automation_condition=dg.AutomationCondition.cron_tick_passed(OBSERVE_CRON),
    description="Each district's landing folder, as delivered. Its data version is a fingerprint of every "
    "file's path, size and modification time (no file is read), so a re-delivery makes that district stale.",
)  # fmt: skip
def landing_districts(landing: LandingResource) -> dg.DataVersionsByPartition:
    root = Path(landing.root)
    return dg.DataVersionsByPartition(
        {d: fp.folder_fingerprint(root / d) for d in district_partitions.get_partition_keys()}
    )


@dg.observable_source_asset(
    key=LANDING_CATALOG, group_name="landing",
    automation_condition=dg.AutomationCondition.cron_tick_passed(OBSERVE_CRON),
    description="The delivered form catalog folder (forms.csv, form_fields.csv); data version = its fingerprint.",
)  # fmt: skip
def landing_catalog(landing: LandingResource) -> dg.DataVersion:
    return dg.DataVersion(fp.folder_fingerprint(Path(landing.root) / "catalog"))


def _stage_code(group: str | None, key: dg.AssetKey) -> Sequence[str]:
    if group == "ingestion":
        catalog = {("core", "divisions"), ("catalog", "forms"), ("catalog", "form_catalog_fields"),
                   ("quarantine", "catalog_problems")}  # fmt: skip
        return incremental.CATALOG_CODE if tuple(key.path) in catalog else incremental.INGEST_CODE
    if group == "reference":
        return incremental.CATALOG_CODE
    if group == "publishing":
        return incremental.PUBLISH_CODE
    return incremental.downstream_code()


def versioned(assets_defs: Iterable[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """The domains' assets with code versions, landing dependencies and automation conditions added."""
    digests: dict[tuple[str, ...], str] = {}

    def code_version(group: str | None, key: dg.AssetKey) -> str:
        items = tuple(_stage_code(group, key))
        if items not in digests:
            digests[items] = fp.code_fingerprint(items)
        return digests[items]

    def edit(spec: dg.AssetSpec) -> dg.AssetSpec:
        deps = list(spec.deps)
        condition = spec.automation_condition
        if spec.group_name == "ingestion" and spec.partitions_def is not None:
            deps.append(dg.AssetDep(LANDING_DISTRICTS))
        elif spec.key == dg.AssetKey(["catalog", "forms"]) or spec.key == dg.AssetKey(
            ["catalog", "form_catalog_fields"]
        ):
            deps.append(dg.AssetDep(LANDING_CATALOG))
        elif spec.group_name not in ("ingestion", "reference") and condition is None:
            condition = dg.AutomationCondition.eager()
        return spec.replace_attributes(
            code_version=code_version(spec.group_name, spec.key), deps=deps, automation_condition=condition
        )

    # observations of the landing zone (no code of ours computes them) keep no code version
    return [a.map_asset_specs(edit) if a.is_executable and not a.is_observable else a for a in assets_defs]


nightly_automation = dg.AutomationConditionSensorDefinition(
    "nightly_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.STOPPED,
    minimum_interval_seconds=60,
    description="Observes the landing zone every 15 minutes and runs what is downstream of fresh ingestion.",
)


def _owned(asset: dg.SourceAsset) -> dg.AssetsDefinition:
    """observable_source_asset takes no `owners`: convert it to the assets definition Dagster builds from
    it anyway, and set them on its spec."""
    from dagster._core.definitions.external_asset import create_external_asset_from_source_asset

    external = create_external_asset_from_source_asset(asset)
    return external.map_asset_specs(lambda spec: spec.replace_attributes(owners=OWNERS, kinds={"file"}))


landing_districts = _owned(landing_districts)
landing_catalog = _owned(landing_catalog)
