"""The jianfu code location: every domain's assets and checks, the jobs, schedule and sensors."""

from __future__ import annotations

import dagster as dg

from assets.common.resources import (
    LandingResource,
    ReflowFoldersResource,
    RunEnvironmentResource,
    WarehouseResource,
)
from assets.forms import defs as forms_defs
from assets.ingest import defs as ingest_defs
from assets.persons import defs as persons_defs
from assets.publish import defs as publish_defs
from assets.reference import defs as reference_defs
from assets.reflow import defs as reflow_defs  # reflow (issue 13)
from pipelines.automation import catalog_job, ingest_job, landing_sensor, nightly_ingest_schedule, refresh_job
from pipelines.versions import landing_catalog, landing_districts, nightly_automation, versioned

DOMAINS = [reference_defs, ingest_defs, forms_defs, persons_defs, publish_defs, reflow_defs]


defs = dg.Definitions(
    # Steps run one after another in the run's own process: every step reads or writes one DuckDB file, so
    # parallel step processes would only queue on its lock (and pay ~2 s of imports each).
    executor=dg.in_process_executor,
    # code versions, landing observations and automation conditions: pipelines/versions.py
    assets=[landing_districts, landing_catalog, *versioned(a for d in DOMAINS for a in d.ASSETS)],
    asset_checks=[c for d in DOMAINS for c in d.CHECKS],
    jobs=[ingest_job, catalog_job, refresh_job, *reflow_defs.JOBS],  # reflow (issue 13): its jobs
    schedules=[nightly_ingest_schedule, *reflow_defs.SCHEDULES],  # reflow: monthly prefill on the 1st
    sensors=[landing_sensor, nightly_automation],
    resources={
        "warehouse": WarehouseResource(path=dg.EnvVar("JIANFU_WAREHOUSE")),
        "landing": LandingResource(root=dg.EnvVar("JIANFU_LANDING")),
        # optional JIANFU_PREFILL_DIR / JIANFU_RETURNS, read at run time (see the resource)
        "reflow_folders": ReflowFoldersResource(),
        "run_env": RunEnvironmentResource(),  # the person-id salt and JIANFU_ENV, read at run time
        **publish_defs.RESOURCES,
    },
)
