"""Jobs, the nightly schedule and the landing-zone sensor."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg

from assets.common.resources import LandingResource
from assets.reflow import defs as reflow_defs  # reflow (issue 13)
from pipelines.partitions import district_partitions

INGEST_SELECTION = dg.AssetSelection.groups("ingestion") - dg.AssetSelection.keys(
    ["catalog", "forms"], ["catalog", "form_catalog_fields"], ["quarantine", "catalog_problems"]
)
CATALOG_SELECTION = dg.AssetSelection.keys(
    ["core", "divisions"],
    ["catalog", "forms"],
    ["catalog", "form_catalog_fields"],
    ["quarantine", "catalog_problems"],
)

ingest_job = dg.define_asset_job(
    "ingest_districts",
    selection=INGEST_SELECTION,
    partitions_def=district_partitions,
    description="Mirror one district's landing folder into the staged, quarantine and raw tables.",
    # Each district writes its own Parquet folder (docs/storage.md): runs of several districts go in parallel;
    # only the views step takes pool `warehouse`.
    executor_def=dg.multiprocess_executor,
)
catalog_job = dg.define_asset_job(
    "load_catalog",
    selection=CATALOG_SELECTION,
    description="Reload the reference divisions and the form catalog.",
)
# reflow (issue 13): its district-partitioned assets run in their own jobs (assets/reflow/defs.py)
REFLOW_SELECTION = dg.AssetSelection.groups("reflow")
refresh_job = dg.define_asset_job(
    "refresh_downstream",
    selection=dg.AssetSelection.all() - INGEST_SELECTION - CATALOG_SELECTION - REFLOW_SELECTION,
    description="Rebuild everything derived from the staged tables: catalogue, persons, marts, products.",
    tags={"jianfu/stage": "downstream"},  # the run queue allows one at a time (deploy/dagster.postgres.yaml)
)


@dg.schedule(job=ingest_job, cron_schedule="30 1 * * *", execution_timezone="Asia/Shanghai",
             default_status=dg.DefaultScheduleStatus.STOPPED)  # fmt: skip
def nightly_ingest_schedule(context: dg.ScheduleEvaluationContext, landing: LandingResource):
    """Every night at 01:30 Shanghai time, one ingestion run per district whose inputs changed.

    The run key is the district's input fingerprint (landing folder, catalog, ingestion code: the same one
    `jianfu run` uses), and Dagster launches a run key only once: an unchanged district is not run again,
    so nothing downstream is triggered on a night without deliveries."""
    from pipelines import incremental

    root = Path(landing.root)
    keys = district_partitions.get_partition_keys()
    fingerprints = incremental.district_fingerprints(root, keys, incremental.catalog_fingerprint(root))
    for district in keys:
        yield dg.RunRequest(
            run_key=f"{district}:{fingerprints[f'ingest:{district}']}", partition_key=district
        )


def folder_fingerprint(folder: Path) -> str:
    """Changes whenever a file is added, removed, rewritten or touched under `folder`."""
    digest = hashlib.sha256()
    if folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            stat = path.stat()
            digest.update(f"{path.relative_to(folder)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


@dg.sensor(
    jobs=[ingest_job, catalog_job, reflow_defs.reconcile_job],
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def landing_sensor(context: dg.SensorEvaluationContext, landing: LandingResource):
    """Ingest a district as soon as its landing folder changes; reload the catalog when it changes."""
    root = Path(landing.root)
    previous = json.loads(context.cursor) if context.cursor else {}
    current = {d: folder_fingerprint(root / d) for d in district_partitions.get_partition_keys()}
    current["catalog"] = folder_fingerprint(root / "catalog")
    requests = []
    if current["catalog"] != previous.get("catalog"):
        requests.append(dg.RunRequest(run_key=f"catalog:{current['catalog']}", job_name=catalog_job.name))
    for district, fingerprint in current.items():
        if district != "catalog" and fingerprint != previous.get(district) and (root / district).is_dir():
            requests.append(
                dg.RunRequest(
                    run_key=f"{district}:{fingerprint}", partition_key=district, job_name=ingest_job.name
                )
            )
            requests.append(
                reflow_defs.returns_run_request(district, fingerprint)
            )  # reflow: returns in landing
    context.update_cursor(json.dumps(current, sort_keys=True))
    if not requests:
        return dg.SkipReason(f"no change under {root}")
    return requests
