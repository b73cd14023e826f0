"""What spans the domains: the landing-zone observations (pipelines/versions.py), the ingestion, catalog and
refresh jobs, the nightly schedule and the sensors (pipelines/automation.py)."""

from __future__ import annotations

import dagster as dg

from pipelines.automation import catalog_job, ingest_job, landing_sensor, nightly_ingest_schedule, refresh_job
from pipelines.versions import landing_catalog, landing_districts, nightly_automation

defs = dg.Definitions(
    assets=[landing_districts, landing_catalog],
    jobs=[ingest_job, catalog_job, refresh_job],
    schedules=[nightly_ingest_schedule],
    sensors=[landing_sensor, nightly_automation],
)
