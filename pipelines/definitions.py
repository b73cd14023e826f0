"""The jianfu code location, as `create-dagster` lays out a `dg` project.

`dg.load_from_defs_folder` loads the defs folder, pipelines/defs/: one module per domain (each hands over the
`Definitions` of its assets/<domain>/defs.py), the shared resources and the cross-domain automation. This
module only adds what applies to all of them: code versions, landing dependencies and automation conditions
(pipelines/versions.py), and the in-process executor. Nothing is read from data files or the environment on
import: `defs` is built when a Dagster tool loads the code location, and the resources resolve their
`dg.EnvVar`s when a run starts.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def build_defs() -> dg.Definitions:
    """The whole code location (the runner and the tests call this; Dagster tools load `defs`)."""
    from pipelines.versions import versioned

    loaded = dg.load_from_defs_folder(path_within_project=PROJECT_ROOT)
    return dg.Definitions(
        # Steps run one after another in the run's own process: every step reads or writes one DuckDB file,
        # so parallel step processes would only queue on its lock (and pay ~2 s of imports each).
        executor=dg.in_process_executor,
        assets=versioned(loaded.assets or []),  # observable landing assets pass through unchanged
        asset_checks=loaded.asset_checks,
        jobs=loaded.jobs,
        schedules=loaded.schedules,
        sensors=loaded.sensors,
        resources=loaded.resources,
    )


@dg.definitions
def defs() -> dg.Definitions:
    """What `dg check defs`, `dg dev` and `dagster dev -m pipelines.definitions` load."""
    return build_defs()
