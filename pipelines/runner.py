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
import polars as pl

from assets.common import fingerprint, paths
from assets.common.resources import ReflowFoldersResource
from assets.common.warehouse import connect as warehouse_connect
from assets.ingest import pipeline as ingest_pipeline
from pipelines import incremental as incremental_plan
from pipelines import preflight

SUMMARY_TABLES = (
    "core.divisions", "catalog.forms", "catalog.form_catalog_fields", "raw.landing_files", "raw.skipped_rows",
    "staging.form_records", "staging.form_values", "quarantine.rows", "quarantine.catalog_problems",
)  # fmt: skip


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
        _skipped(instance, graph.keys("catalog", CATALOG_SELECTION), "reference + catalog", plan.reasons["catalog"])

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
        _skipped(instance, graph.keys("downstream", downstream_selection), "downstream", plan.reasons["downstream"])

    # 4. reflow (issue 13): next period's prefilled forms per district, returns (simulated on a generated
    # landing zone), reconciliation, observed burden. Only the districts whose own share of the persons and
    # records changed (pipelines/incremental.py: reflow_fingerprints) run, as partitions of the reflow assets.
    t0 = time.perf_counter()
    returns_root = ReflowFoldersResource().returns_root(str(warehouse))
    with warehouse_connect(warehouse) as con:
        legs = _reflow_legs(con, plan.current["downstream"])
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
            fingerprint.record(con, {incremental_plan.LEGS_STAGE: key}, parts={incremental_plan.LEGS_STAGE: legs})
    return legs


class _AssetGraph:
    """The assets of each stage's selection: resolved from the definitions, or kept from the last run whose
    code was the same. Building the definitions costs ~2 CPU-s, a quarter of a night that runs nothing, so a
    night on which every stage is skipped does not build them."""

    STAGE = "runner:asset_graph"

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


SUMMARY_STAGE = "run:summary"


def _summary_key(con: duckdb.DuckDBPyConnection) -> str | None:
    """Every stage's recorded fingerprint and last write, and the landing root: a run that changed anything
    recorded something (the reflow legs are a cache of what is there, no change)."""
    if not fingerprint.tables_exist(con, (fingerprint.STATE_TABLE,)):
        return None
    rows = con.execute(f"SELECT stage, fingerprint, run_id, CAST(recorded_at AS VARCHAR) FROM {fingerprint.STATE_TABLE} "
                       "WHERE stage NOT IN (?, ?, ?) ORDER BY 1", [SUMMARY_STAGE, incremental_plan.LEGS_STAGE,
                                                      _AssetGraph.STAGE]).fetchall()  # fmt: skip
    return fingerprint.digest([list(map(str, r)) for r in rows], os.environ.get("JIANFU_LANDING", ""))


def summary(warehouse: Path, reuse: bool = False) -> str:
    """Tables with row counts, quarantined rows per reason, rejected files, and the per-file accounting.

    With `reuse` (after a nightly run), the summary written after the last run that changed anything is
    printed again when nothing was recorded since: a night with nothing new does not count every table."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        key = _summary_key(con)
        stored = con.execute(f"SELECT fingerprint, parts, CAST(recorded_at AS VARCHAR) FROM {fingerprint.STATE_TABLE} "
                             "WHERE stage = ?", [SUMMARY_STAGE]).fetchall() if key else []  # fmt: skip
    finally:
        con.close()
    if reuse and stored and stored[0][0] == key:
        text = json.loads(stored[0][1]).get(SUMMARY_STAGE, "")
        return f"(nothing changed since the run summarized at {stored[0][2][:19]} UTC: its summary)\n{text}"
    text = _summary(warehouse)
    if key:
        try:
            with warehouse_connect(warehouse) as con:
                fingerprint.record(con, {SUMMARY_STAGE: key}, parts={SUMMARY_STAGE: text})
        except duckdb.Error:  # another process writes the warehouse: the summary is printed, not kept
            pass
    return text


def _summary(warehouse: Path) -> str:
    lines: list[str] = []
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        from assets.ingest.parquet_store import TABLES as INGEST_VIEWS  # views over the Parquet store

        tables = con.sql(
            "SELECT table_schema || '.' || table_name AS t FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' OR list_contains(?, table_schema || '.' || table_name) ORDER BY 1",
            params=[list(INGEST_VIEWS)],
        ).fetchall()
        lines.append("Tables (rows):")
        for (table,) in tables:
            n = con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            lines.append(f"  {table:<40} {n:>12,}")
        lines.append("Files by status (every file under the landing root):")
        by_status = {status: (n, rows) for status, n, rows in con.sql(
            "SELECT status, count(*), sum(rows_read) FROM raw.landing_files GROUP BY 1").fetchall()}  # fmt: skip
        statuses = ("ingested", "rejected", "superseded", "duplicate", "ignored")
        for status in (*statuses, *sorted(set(by_status) - set(statuses))):
            n, rows = by_status.get(status, (0, 0))
            lines.append(f"  {status:<12} {n:>6,} files {int(rows or 0):>10,} rows")
        ignored = con.sql("SELECT reason_code, count(*) FROM raw.landing_files WHERE status = 'ignored' "
                          "GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()  # fmt: skip
        if ignored:
            lines.append("Ignored files (not deliveries) by reason:")
            lines += [f"  {reason or '-':<28} {n:>8,}" for reason, n in ignored]
        replaced = con.sql("SELECT status, source_file, replaced_by FROM raw.landing_files "
                           "WHERE status IN ('duplicate', 'superseded') ORDER BY 1, 2").fetchall()  # fmt: skip
        if replaced:
            lines.append("Duplicate (same bytes) and superseded files, with the file that replaced them:")
            lines += [f"  {status:<10} {source} → {by}" for status, source, by in replaced[:10]]
            if len(replaced) > 10:
                lines.append(f"  … and {len(replaced) - 10} more (raw.landing_files.replaced_by)")
        lines.append("Quarantined rows by reason:")
        for reason, n in con.sql(
            "SELECT reason_code, count(*) FROM quarantine.rows GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall():
            lines.append(f"  {reason:<28} {n:>8,}")
        lines.append("Rejected files by reason:")
        for reason, n in con.sql(
            "SELECT reason_code, count(*) FROM quarantine.rejected_files GROUP BY 1 ORDER BY 1"
        ).fetchall():
            lines.append(f"  {reason:<28} {n:>8,}")
        lines.append("Skipped non-data rows by reason:")
        for reason, n in con.sql(
            "SELECT reason, count(*) FROM raw.skipped_rows GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall():
            lines.append(f"  {reason:<28} {n:>8,}")
        accounting = ingest_pipeline.file_accounting(con)
        totals = accounting.select(
            pl.col("rows_read", "staged", "quarantined", "skipped", "replaced", "unaccounted").sum()
        )
        t = totals.row(0, named=True)
        bad = accounting.filter(pl.col("unaccounted") != 0).height
        lines.append(
            f"Row accounting: read {t['rows_read']:,} = staged {t['staged']:,} + quarantined {t['quarantined']:,} "
            f"+ skipped {t['skipped']:,} + replaced {t['replaced']:,}; unaccounted {t['unaccounted']:,}; "
            f"files that do not add up: {bad} of {accounting.height}"
        )
        lines += _landing_line(con)
        lines += _domain_headlines(con)
    finally:
        con.close()
    return "\n".join(lines)


def _landing_line(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Landing level: every file under the landing root registered (the catalog/ folder aside)."""
    from assets.common.warehouse import table_exists
    from assets.ingest.accounting import landing_accounting
    from assets.ingest.rules import load_delivery_rules

    landing = os.environ.get("JIANFU_LANDING")
    if not landing or not Path(landing).is_dir() or not table_exists(con, "core.divisions"):
        return []
    districts = dict(con.sql("SELECT DISTINCT district_code, district_name FROM core.divisions").fetchall())
    missing, totals = landing_accounting(con, Path(landing), districts, load_delivery_rules())
    return [f"Landing accounting: {totals['files']:,} files registered; files under the landing root missing from "
            f"raw.landing_files: {missing.height}" + (f" (e.g. {missing['source_file'][0]})" if missing.height else "")]  # fmt: skip


def _domain_headlines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The headline figures each downstream domain reports, when its tables exist."""
    from assets.common.warehouse import table_exists

    lines: list[str] = []
    if table_exists(con, "marts.burden_by_committee"):
        from assets.forms.pipeline import format_headline, headline

        lines += ["", "Burden (一表通):", format_headline(headline(con))]
    if table_exists(con, "reflow.prefill_files"):  # reflow (issue 13)
        from assets.reflow.observed import headline as reflow_headline

        lines += ["", "Return flow (数据回流):", *reflow_headline(con)]
    if table_exists(con, "core.persons"):
        persons, records = con.sql(
            "SELECT (SELECT count(*) FROM core.persons), (SELECT count(*) FROM core.person_records)"
        ).fetchall()[0]
        lines += ["", "Persons (one person, one record):", f"{records:,} source rows → {persons:,} persons"]
        truth = _ground_truth_beside(con)
        if truth is not None:
            from assets.persons.resolve import evaluate_warehouse

            m = evaluate_warehouse(con, truth)
            lines.append(
                "against the generator's ground truth: "
                + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v:,}" for k, v in m.items())
            )
    if table_exists(con, "audit.publication_runs"):
        row = con.sql(
            "SELECT products, products_by_tier, seconds, denials, leak_scan_summary FROM audit.publication_runs "
            "ORDER BY published_at DESC LIMIT 1"
        ).fetchall()
        if row:
            products, by_tier, seconds, denials, scan = row[0]
            lines += ["", "Publishing (分级分类):",
                      f"{products} products {by_tier} in {seconds:.1f}s; {denials} denials (see publish.denials)",
                      scan]  # fmt: skip
    return lines


def _ground_truth_beside(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The ground truth of the landing zone the warehouse was built from, when it is a generated one."""
    landing = os.environ.get("JIANFU_LANDING")
    if not landing:
        return None
    truth = Path(landing).parent / "ground_truth.parquet"
    return truth if truth.exists() else None


def default_paths() -> tuple[Path, Path]:
    return (
        Path(os.environ.get("JIANFU_WAREHOUSE") or paths.DEFAULT_WAREHOUSE),
        Path(os.environ.get("JIANFU_LANDING") or paths.SAMPLE_LANDING),
    )
