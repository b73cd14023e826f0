"""Run the main job end to end in one process and print what it did.

`make run` lands here. It materializes, in order: the reference data and the form catalog; every
district partition of the ingestion in one single-run backfill; then everything downstream. The runs
go to the Dagster instance in DAGSTER_HOME, so `make ui` shows them afterwards.
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import duckdb

from assets.common import fingerprint, paths
from assets.common.resources import ReflowFoldersResource
from assets.common.warehouse import connect as warehouse_connect
from pipelines import incremental as incremental_plan
from pipelines import preflight


def summary(warehouse: Path, reuse: bool = False) -> str:
    """What the warehouse holds after a run (pipelines/summary.py)."""
    from pipelines import summary as run_summary

    return run_summary.summary(warehouse, reuse)


def _instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()


def _progress(message: str) -> None:
    """One line per step of the run, with the time and the process's peak RSS so far."""
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"[{time.strftime('%H:%M:%S')}] {message} (peak RSS so far {peak_mb:,.0f} MB)", flush=True)


def _configure_logging() -> None:
    """Progress of long work in the pure modules (files read per district, pairs scored, products written)
    on stderr: progress bars on a terminal, timestamped lines elsewhere (pipelines/console.py)."""
    from pipelines import console

    console.install()


def run_all(
    warehouse: Path,
    landing: Path,
    full_refresh: bool = False,
    log_level: str = "WARNING",
    incremental: bool = True,
) -> dict[str, float]:
    """Materialize what changed against `warehouse` from `landing`; returns seconds per stage.

    Settings are checked first (a missing secret fails here, before any work). Each stage then runs only
    when its input fingerprint differs from the one recorded after its last success (pipelines/incremental.py):
    a night with nothing new costs the fingerprints; `full_refresh` or `incremental=False` runs everything."""
    run_start = time.perf_counter()
    secrets = preflight.check(warehouse, landing)
    _configure_logging()
    os.environ["JIANFU_WAREHOUSE"] = str(warehouse)
    os.environ["JIANFU_LANDING"] = str(landing)
    from pipelines.automation import CATALOG_SELECTION, INGEST_SELECTION, REFLOW_SELECTION
    from pipelines.definitions import build_defs
    from pipelines.partitions import district_partitions

    graph = _AssetGraph(warehouse, build_defs)

    REFLOW_OBSERVED = (["marts", "burden_observed"], ["marts", "burden_observed_by_department"])  # reflow

    instance = _instance()
    keys = district_partitions.get_partition_keys()
    force = full_refresh or not incremental
    timings: dict[str, float] = {}
    # A generated landing zone has its ground truth beside it: score the persons against it (never read
    # by the matching itself, only by the evaluation recorded in the asset's metadata).
    truth = Path(landing).parent / "ground_truth.parquet"
    downstream_config = (
        {"ops": {"persons": {"config": {"ground_truth_path": str(truth)}}}} if truth.exists() else {}
    )
    publish_selection = dg.AssetSelection.groups("publishing")
    downstream_selection = (
        dg.AssetSelection.all() - INGEST_SELECTION - CATALOG_SELECTION - publish_selection - REFLOW_SELECTION
    )
    published_dir = Path(warehouse).resolve().parent / "published"

    start = time.perf_counter()
    stored, tables = incremental_plan.read_state(warehouse)
    plan = incremental_plan.Plan(stored)
    plan.current["catalog"] = incremental_plan.catalog_fingerprint(landing)
    plan.current.update(incremental_plan.district_fingerprints(landing, keys, plan.current["catalog"]))
    timings["fingerprints (landing)"] = time.perf_counter() - start

    def run_stage(name: str, selection: dg.AssetSelection, tags: dict, run_config: dict) -> None:
        _progress(f"stage {name}: started")
        t0 = time.perf_counter()
        _materialize(graph.defs, instance, name, selection, tags, run_config, log_level)
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
        _progress(f"stage {name}: {time.perf_counter() - t0:.1f}s")

    # 1. reference + catalog
    if plan.must_run("catalog", set(incremental_plan.CATALOG_TABLES) <= tables, force):
        run_stage("reference + catalog", CATALOG_SELECTION, {}, {})
        _record(warehouse, {"catalog": plan.current["catalog"]}, plan)
    else:
        _skipped(
            instance, graph.keys("catalog", CATALOG_SELECTION), "reference + catalog", plan.reasons["catalog"]
        )

    # 2. ingestion: only the districts whose landing folder (or the catalog, or the code) changed
    have_ingest = set(incremental_plan.INGEST_TABLES) <= tables
    changed = [d for d in keys if plan.must_run(f"ingest:{d}", have_ingest, force)]
    if changed:
        ranges = incremental_plan.contiguous_ranges(changed, keys)
        _progress(f"ingestion: {len(changed)} of {len(keys)} districts changed ({', '.join(changed)}); "
                  f"{len(ranges)} run(s)")  # fmt: skip
        for first, last in ranges:
            run_stage(f"ingestion ({len(changed)} of {len(keys)} districts)", INGEST_SELECTION,
                      {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
                      {"ops": {"district_files": {"config": {"full_refresh": full_refresh}}}})  # fmt: skip
            done = keys[keys.index(first) : keys.index(last) + 1]
            _record(warehouse, {f"ingest:{d}": plan.current[f"ingest:{d}"] for d in done}, plan)
    else:
        _skipped(instance, graph.keys("ingestion", INGEST_SELECTION), "ingestion",
                 "no district's landing folder changed")  # fmt: skip

    # 3. forms + persons (+ every other domain between ingestion and publishing)
    t0 = time.perf_counter()
    with warehouse_connect(warehouse, read_only=True) as con:
        plan.current["downstream"], parts = incremental_plan.downstream_fingerprint(
            con, secrets.person_id_salt
        )
        tables = {f"{s}.{t}" for s, t in con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables").fetchall()}  # fmt: skip
    outputs = _output_tables(graph.keys("downstream", downstream_selection))
    timings["fingerprints (warehouse)"] = time.perf_counter() - t0
    if plan.must_run("downstream", outputs <= tables, force):
        run_stage("downstream", downstream_selection, {}, downstream_config)
        _record(warehouse, {"downstream": plan.current["downstream"]}, plan)
    else:
        _skipped(
            instance, graph.keys("downstream", downstream_selection), "downstream", plan.reasons["downstream"]
        )

    # 4. reflow (issue 13): next period's prefilled forms per district, returns (simulated on a generated
    # landing zone), reconciliation, observed burden. Only the districts whose own share of the persons and
    # records changed (pipelines/incremental.py: reflow_fingerprints) run, as partitions of the reflow assets.
    t0 = time.perf_counter()
    returns_root = ReflowFoldersResource().returns_root(str(warehouse))
    with warehouse_connect(warehouse, read_only=True) as con:  # a night with nothing new writes nothing
        legs = incremental_plan.stored_legs(con, incremental_plan.legs_key(con, plan.current["downstream"]))
    with warehouse_connect(warehouse, read_only=legs is not None) as con:
        legs = legs or _reflow_legs(con, plan.current["downstream"])
        plan.current.update(incremental_plan.reflow_fingerprints(con, keys, returns_root, legs))
    timings["fingerprints (reflow)"] = time.perf_counter() - t0
    reflow_outputs = _output_tables(graph.keys("reflow (all)", REFLOW_SELECTION))
    have_reflow = reflow_outputs <= tables
    reflow_changed = [d for d in keys if plan.must_run(f"reflow:{d}", have_reflow, force)]
    plan.current["reflow"] = incremental_plan.fp.digest(
        plan.current["downstream"], *(plan.current[f"reflow:{d}"] for d in keys)
    )
    if reflow_changed:
        # one run over the range that spans the changed districts; the assets build only those (config)
        first, last = reflow_changed[0], reflow_changed[-1]
        only = {"only_districts": reflow_changed}
        run_stage(f"reflow ({len(reflow_changed)} of {len(keys)} districts)",
                  REFLOW_SELECTION - dg.AssetSelection.keys(*REFLOW_OBSERVED),
                  {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
                  {"ops": {"prefilled_forms": {"config": only},
                           "reconciled_returns": {"config": {"simulate_returns": truth.exists(), **only}}}})  # fmt: skip
        _record(warehouse, {f"reflow:{d}": plan.current[f"reflow:{d}"] for d in reflow_changed}, plan)
        # the returns were reconciled again: the legs they feed are computed now, so that the next night
        # with nothing new finds them kept
        t0 = time.perf_counter()
        with warehouse_connect(warehouse) as con:
            _reflow_legs(con, plan.current["downstream"])
        timings["fingerprints (reflow)"] += time.perf_counter() - t0
    else:
        _skipped(instance, graph.keys("reflow", REFLOW_SELECTION - dg.AssetSelection.keys(*REFLOW_OBSERVED)), "reflow",
                 "no district's persons, records or returns changed")  # fmt: skip
    # the observed burden reads every return and the department mart: after any reflow or downstream change
    plan.current["reflow:observed"] = incremental_plan.fp.digest(plan.current["reflow"])
    if plan.must_run("reflow:observed", have_reflow, force):
        run_stage("reflow: observed burden", dg.AssetSelection.keys(*REFLOW_OBSERVED), {}, {})
        _record(warehouse, {"reflow:observed": plan.current["reflow:observed"]}, plan)
    else:
        _skipped(instance, graph.keys("observed", dg.AssetSelection.keys(*REFLOW_OBSERVED)), "reflow: observed burden",
                 plan.reasons["reflow:observed"])  # fmt: skip
    # 5. publishing, as a whole, after reflow: a committee's product carries its prefilled forms.
    # (products carried over inside it are the publishing domain's business)
    plan.current["publish"] = incremental_plan.publish_fingerprint(
        plan.current["reflow"], published_dir, secrets.mask_key, secrets.product_keys
    )
    if plan.must_run("publish", incremental_plan.products_present(published_dir), force):
        run_stage("publishing", publish_selection, {}, {})
        _record(warehouse, {"publish": plan.current["publish"]}, plan)
    else:
        _skipped(instance, graph.keys("publishing", publish_selection), "publishing", plan.reasons["publish"])
    graph.save({"catalog": CATALOG_SELECTION, "ingestion": INGEST_SELECTION, "downstream": downstream_selection,
                "reflow (all)": REFLOW_SELECTION, "reflow": REFLOW_SELECTION - dg.AssetSelection.keys(*REFLOW_OBSERVED),
                "observed": dg.AssetSelection.keys(*REFLOW_OBSERVED), "publishing": publish_selection})  # fmt: skip
    _progress(f"run finished in {time.perf_counter() - run_start:.1f}s")
    return timings


def _reflow_legs(con: duckdb.DuckDBPyConnection, downstream: str) -> dict[str, object] | None:
    """The warehouse legs of the reflow fingerprints, kept from an earlier night when nothing they read can
    have changed (downstream fingerprint, last writes of persons and returns): a night with nothing new does
    not scan every record. Otherwise record digests of new records first, then every leg."""
    key = incremental_plan.legs_key(con, downstream)
    legs = incremental_plan.stored_legs(con, key)
    if legs is None:
        if fingerprint.tables_exist(con, ("staging.form_records", "staging.form_values")):
            incremental_plan.update_record_digests(con)
        legs = incremental_plan.reflow_legs(con)
        if legs is not None:
            fingerprint.record(
                con, {incremental_plan.LEGS_STAGE: key}, parts={incremental_plan.LEGS_STAGE: legs}
            )
    return legs


class _AssetGraph:
    """The assets of each stage's selection: resolved from the definitions, or kept from the last run whose
    code was the same. Building the definitions costs ~2 CPU-s, a quarter of a night that runs nothing, so a
    night on which every stage is skipped does not build them."""

    STAGE = incremental_plan.ASSET_GRAPH_STAGE

    def __init__(self, warehouse: Path, build: Callable[[], dg.Definitions]) -> None:
        self.warehouse, self._build, self._defs = warehouse, build, None
        self.code = fingerprint.code_fingerprint(("assets", "pipelines"))
        self.kept: dict[str, list[list[str]]] = {}
        if Path(warehouse).exists():
            con = duckdb.connect(str(warehouse), read_only=True)
            try:
                if fingerprint.tables_exist(con, (fingerprint.STATE_TABLE,)):
                    row = con.execute(f"SELECT fingerprint, parts FROM {fingerprint.STATE_TABLE} WHERE stage = ?",
                                      [self.STAGE]).fetchall()  # fmt: skip
                    if row and row[0][0] == self.code:
                        self.kept = json.loads(row[0][1]).get(self.STAGE, {})
            finally:
                con.close()
        self.resolved: dict[str, list[list[str]]] = {}

    @property
    def defs(self) -> dg.Definitions:
        if self._defs is None:
            self._defs = self._build()
        return self._defs

    def keys(self, name: str, selection: dg.AssetSelection) -> list[dg.AssetKey]:
        if name not in self.kept:
            self.kept[name] = sorted(list(k.path) for k in selection.resolve(self.defs.resolve_asset_graph()))
            self.resolved[name] = self.kept[name]
        return [dg.AssetKey(p) for p in self.kept[name]]

    def save(self, selections: dict[str, dg.AssetSelection]) -> None:
        """Once the definitions were built tonight, remember every stage's selection for the nights to come."""
        if self._defs is not None:
            for name, selection in selections.items():
                self.keys(name, selection)
        if self.resolved:
            with warehouse_connect(self.warehouse) as con:
                fingerprint.record(con, {self.STAGE: self.code}, parts={self.STAGE: self.kept})


def _materialize(defs: dg.Definitions, instance: dg.DagsterInstance, name: str, selection: dg.AssetSelection,
                 tags: dict, run_config: dict, log_level: str) -> None:  # fmt: skip
    result = dg.materialize(
        [*(defs.assets or []), *(defs.asset_checks or [])],
        selection=selection,
        instance=instance,
        resources=defs.resources,
        tags=tags,
        run_config={**run_config, "loggers": {"console": {"config": {"log_level": log_level}}}},
        raise_on_error=False,
    )
    failed_checks = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed  # type: ignore[union-attr]
    ]
    for evaluation in failed_checks:
        print(f"  check {evaluation.asset_key.to_user_string()}:{evaluation.check_name} did not pass "
              f"({evaluation.severity.value}): {evaluation.description}")  # fmt: skip
    if not result.success:
        failures = []
        for event in result.all_events:
            if not event.is_failure:
                continue
            failures.append(event.message or "")
            data = getattr(event.event_specific_data, "user_failure_data", None)
            for key, value in (data.metadata or {}).items() if data else []:
                failures.append(f"  {key}:\n{getattr(value, 'value', value)}")
        raise SystemExit(f"stage '{name}' failed:\n" + "\n".join(failures[:12]))


def _record(warehouse: Path, fingerprints: dict[str, str], plan: incremental_plan.Plan) -> None:
    """Remember the fingerprints of stages that just succeeded (a failed stage raised before this)."""
    with warehouse_connect(warehouse) as con:
        fingerprint.record(con, fingerprints, parts={s: plan.reasons.get(s, "") for s in fingerprints})


def _output_tables(keys: list[dg.AssetKey]) -> set[str]:
    """Warehouse tables the selected assets write (asset keys named <layer>.<table>)."""
    from assets.common.warehouse import LAYERS

    return {".".join(k.path) for k in keys if len(k.path) == 2 and k.path[0] in LAYERS}


def _skipped(instance: dg.DagsterInstance, keys: list[dg.AssetKey], name: str, reason: str) -> None:
    """Say so, and record an observation on each asset so the UI shows when it was last found unchanged."""
    _progress(f"stage {name}: skipped ({reason})")
    if instance.is_ephemeral:
        return
    for key in keys:
        instance.report_runless_asset_event(
            dg.AssetObservation(
                asset_key=key, metadata={"nightly": dg.MetadataValue.text(f"skipped: {reason}")}
            )
        )


def default_paths() -> tuple[Path, Path]:
    return (
        Path(os.environ.get("JIANFU_WAREHOUSE") or paths.DEFAULT_WAREHOUSE),
        Path(os.environ.get("JIANFU_LANDING") or paths.SAMPLE_LANDING),
    )
