"""Dagster wiring of 数据回流 (group `reflow`): prefilled forms and reconciled returns per district, observed burden.

Both partitioned multi-assets use the ingestion's district partitions and a single-run backfill policy, so all
districts build in one run. Paths come from the `reflow_folders` resource at run time: prefilled workbooks go
to `JIANFU_PREFILL_DIR` (default `<warehouse folder>/prefill`), returns are read from `JIANFU_RETURNS` (default
`<warehouse folder>/returns`; in production point it at the landing root, where returns arrive like any
delivery and the landing sensor also requests the reconcile job).
"""

from pathlib import Path

import dagster as dg

from assets.common.checks import check_result
from assets.common.meta import table_metadata
from assets.common.resources import WAREHOUSE_POOL, LandingResource, ReflowFoldersResource, WarehouseResource
from assets.common.warehouse import markdown_preview, read_frame
from pipelines.partitions import district_partitions

OWNERS = ["team:jianfu-data"]
KIND = {"polars", "duckdb", "excel"}
GROUP = "reflow"
K = {t: dg.AssetKey(t.split(".")) for t in (
    "reflow.rosters", "reflow.prefill_files", "reflow.prefill_cells", "reflow.returns", "reflow.return_rows",
    "reflow.return_cells", "reflow.roster_exits", "reflow.person_evidence", "marts.burden_observed",
    "marts.burden_observed_by_department")}  # fmt: skip
DESCRIPTIONS = {
    "reflow.rosters": "Who is on next period's form of each committee and why (carried forward, moved in, enrolled "
    "by the target rule) — and who was dropped (moved out, aged out, removed by staff).",
    "reflow.prefill_files": "One prefilled .xlsx per committee × form × next period, with its prefill id and path.",
    "reflow.prefill_cells": "Every cell of every prefilled form: value, whether prefilled, and its source "
    "(golden record, derived, earlier delivery) or why it is blank (policy, no element, no value).",
    "reflow.returns": "Returned files: recognized prefill returns (reconciled) and ordinary deliveries, with counts.",
    "reflow.return_rows": "Each row of each recognized return: confirmed, corrected, added or removed (staff reason).",
    "reflow.return_cells": "Each cell of each return: confirmed, corrected, typed or blank, with both values.",
    "reflow.roster_exits": "Persons staff removed with a reason (死亡, 迁出 …): kept off the next rosters.",
    "reflow.person_evidence": "Corrected and added persons from returns, as person rows (source_file = the return): "
    "read by staging.person_rows on the next run.",
    "marts.burden_observed": "Cells staff typed vs cells prefilled and confirmed, per committee, form, department, month.",
    "marts.burden_observed_by_department": "Share prefilled per department: the plan beside what returns showed.",
}


class ReflowConfig(dg.Config):
    prefill_dir: str = ""  # default: the reflow_folders resource
    returns_dir: str = ""  # default: the reflow_folders resource
    # Sample and tests only: before reconciling, let the generator return a seeded share of the prefilled
    # files into the returns folder (synth/generator/returns.py). Production leaves it off.
    simulate_returns: bool = False
    simulation_seed: int = 20261201
    # The nightly runner materializes one range of district partitions and names here the districts of it
    # whose inputs changed (pipelines/incremental.py: reflow_fingerprints); the others are left as they are.
    # Empty: every district of the range.
    only_districts: list[str] = []


def _districts(context: dg.AssetExecutionContext, config: ReflowConfig) -> list[str]:
    keys = list(context.partition_keys)
    if not config.only_districts:
        return keys
    chosen = [k for k in keys if k in set(config.only_districts)]
    if not chosen:  # never build "all" by accident: an empty district list means every district downstream
        raise dg.Failure(f"only_districts {config.only_districts} names none of this run's partitions {keys}")
    context.log.info(
        f"districts rebuilt: {chosen}; unchanged, left as they are: {sorted(set(keys) - set(chosen))}"
    )
    return chosen


def prefill_root(config: ReflowConfig, folders: ReflowFoldersResource, warehouse: WarehouseResource) -> Path:
    return folders.prefill_root(warehouse.path, config.prefill_dir)


def returns_root(config: ReflowConfig, folders: ReflowFoldersResource, warehouse: WarehouseResource) -> Path:
    return folders.returns_root(warehouse.path, config.returns_dir)


def _specs(tables: list[str], deps: list[dg.AssetKey]) -> list[dg.AssetSpec]:
    return [dg.AssetSpec(K[t], description=DESCRIPTIONS[t], group_name=GROUP, kinds=KIND, owners=OWNERS, deps=deps,
                         partitions_def=district_partitions) for t in tables]  # fmt: skip


def _where(keys: list[str], column: str = "left(committee_code, 6)") -> str:
    return f"{column} IN (" + ",".join(f"'{k}'" for k in keys) + ")"


@dg.multi_asset(
    specs=_specs(["reflow.rosters", "reflow.prefill_files", "reflow.prefill_cells"],
                 [dg.AssetKey(["core", "persons"]), dg.AssetKey(["core", "person_records"]),
                  dg.AssetKey(["catalog", "form_fields"])]),
    pool=WAREHOUSE_POOL, backfill_policy=dg.BackfillPolicy.single_run(), name="prefilled_forms",
)  # fmt: skip
def prefilled_forms(
    context: dg.AssetExecutionContext,
    config: ReflowConfig,
    warehouse: WarehouseResource,
    reflow_folders: ReflowFoldersResource,
):
    """Next period's prefilled forms of the partition's districts: rosters, cells and workbooks."""
    from assets.reflow.build import build_prefills

    keys = _districts(context, config)
    with warehouse.connect() as con:
        result = build_prefills(
            con, prefill_root(config, reflow_folders, warehouse), keys, run_id=context.run.run_id
        )
        context.log.info(f"prefill: {result}")
        where = _where(keys)
        for table in ("reflow.rosters", "reflow.prefill_files", "reflow.prefill_cells"):
            meta = table_metadata(
                con, table, where + (" AND current" if table == "reflow.prefill_files" else "")
            )
            if table == "reflow.prefill_files":
                meta |= {"files": result.files, "rows": result.rows, "cells_prefilled": result.cells_prefilled,
                         "cells": result.cells, "folder": str(prefill_root(config, reflow_folders, warehouse))}  # fmt: skip
            yield dg.MaterializeResult(asset_key=K[table], metadata=meta)


@dg.multi_asset(
    specs=_specs(["reflow.returns", "reflow.return_rows", "reflow.return_cells", "reflow.roster_exits",
                  "reflow.person_evidence"], [K["reflow.prefill_files"], K["reflow.prefill_cells"]]),
    pool=WAREHOUSE_POOL, backfill_policy=dg.BackfillPolicy.single_run(), name="reconciled_returns",
)  # fmt: skip
def reconciled_returns(
    context: dg.AssetExecutionContext,
    config: ReflowConfig,
    warehouse: WarehouseResource,
    landing: LandingResource,
    reflow_folders: ReflowFoldersResource,
):
    """Returned files of the partition's districts: reconciled by prefill id, or read as ordinary deliveries."""
    from assets.reflow.returns import reconcile_returns

    keys = _districts(context, config)
    if config.simulate_returns:
        from assets.reflow.pool import simulate_districts

        summary = simulate_districts(prefill_root(config, reflow_folders, warehouse), returns_root(config, reflow_folders, warehouse),
                                     config.simulation_seed, keys)  # fmt: skip
        context.log.info(f"simulated returns: {summary}")
    with warehouse.connect() as con:
        files = reconcile_returns(
            con, returns_root(config, reflow_folders, warehouse), keys, Path(landing.root), context.run.run_id
        )
        kinds = files.group_by("kind").len().sort("kind")
        for table in ("reflow.returns", "reflow.return_rows", "reflow.return_cells", "reflow.roster_exits",
                      "reflow.person_evidence"):  # fmt: skip
            column = "district_code" if table == "reflow.returns" else (
                "left(district_code, 6)" if table == "reflow.person_evidence" else "left(committee_code, 6)")  # fmt: skip
            meta = table_metadata(con, table, _where(keys, column))
            if table == "reflow.returns":
                meta["files_by_kind"] = dg.MetadataValue.md(markdown_preview(kinds))
            yield dg.MaterializeResult(asset_key=K[table], metadata=meta)


@dg.multi_asset(
    specs=[dg.AssetSpec(K[t], description=DESCRIPTIONS[t], group_name=GROUP, kinds={"polars", "duckdb"},
                        owners=OWNERS, deps=[K["reflow.returns"], K["reflow.return_cells"],
                                             dg.AssetKey(["marts", "burden_by_department"])])
           for t in ("marts.burden_observed", "marts.burden_observed_by_department")],
    pool=WAREHOUSE_POOL, name="burden_observed",
)  # fmt: skip
def burden_observed(warehouse: WarehouseResource):
    """Observed burden from the returns, beside the plan; the headline and chart are in the metadata."""
    from assets.reflow.observed import chart_png, headline, markdown_chart, write_observed

    with warehouse.connect() as con:
        _, by_dept = write_observed(con)
        lines = headline(con)
        yield dg.MaterializeResult(
            asset_key=K["marts.burden_observed"], metadata=table_metadata(con, "marts.burden_observed")
        )
        meta = table_metadata(con, "marts.burden_observed_by_department")
        meta["headline"] = dg.MetadataValue.text(next((x for x in lines if x.startswith("burden plan")), ""))
        meta["summary"] = dg.MetadataValue.md("```\n" + "\n".join(lines) + "\n```")
        meta["chart"] = dg.MetadataValue.md(markdown_chart(chart_png(by_dept)))
        yield dg.MaterializeResult(asset_key=K["marts.burden_observed_by_department"], metadata=meta)


@dg.asset_check(asset=K["reflow.prefill_cells"], blocking=True,
                description="No 不予共享 element is ever prefilled, and nothing is prefilled without a data element.")  # fmt: skip
def nothing_not_shared_prefilled(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        failing = read_frame(con, "SELECT prefill_id, seq, field_label, element_code, sharing FROM reflow.prefill_cells "
                                  "WHERE prefilled AND (sharing = '不予共享' OR sharing IS NULL OR element_code IS NULL)")  # fmt: skip
        total = con.execute("SELECT count(*) FROM reflow.prefill_cells WHERE prefilled").fetchall()[0][0]
    return check_result(
        what="prefilled cells of 不予共享 or unclassified fields", failing=failing, total=total
    )


@dg.asset_check(asset=K["reflow.rosters"], blocking=True,
                description="A committee's form lists only persons whose golden record lives in that committee.")  # fmt: skip
def no_foreign_resident(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        failing = read_frame(con, "SELECT r.committee_code, r.form_code, r.person_id, p.committee_code AS lives_in "
                                  "FROM reflow.rosters r JOIN core.persons p USING (person_id) "
                                  "WHERE r.status = 'on' AND p.committee_code IS DISTINCT FROM r.committee_code")  # fmt: skip
        total = con.execute("SELECT count(*) FROM reflow.rosters WHERE status = 'on'").fetchall()[0][0]
    return check_result(what="roster rows of another committee's resident", failing=failing, total=total)


@dg.asset_check(asset=K["reflow.returns"], blocking=True,
                description="Every returned data row is accounted: reconciled rows, or staged + quarantined.")  # fmt: skip
def returns_accounted(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        failing = read_frame(con, """
            SELECT f.return_file, f.kind, f.rows_read, coalesce(r.n, 0) AS reconciled, f.rows_staged, f.rows_quarantined
            FROM reflow.returns f LEFT JOIN (SELECT return_file, count(*) AS n FROM reflow.return_rows
                                             WHERE row_number IS NOT NULL GROUP BY 1) r USING (return_file)
            WHERE (f.kind = 'prefill_return' AND f.rows_read <> coalesce(r.n, 0))
               OR (f.kind = 'ordinary_delivery' AND f.rows_read <> f.rows_staged + f.rows_quarantined)""")  # fmt: skip
        total = con.execute("SELECT count(*) FROM reflow.returns").fetchall()[0][0]
    return check_result(what="returned files whose rows do not add up", failing=failing, total=total)


ASSETS = [prefilled_forms, reconciled_returns, burden_observed]
CHECKS = [nothing_not_shared_prefilled, no_foreign_resident, returns_accounted]
REFLOW_SELECTION = dg.AssetSelection.groups(GROUP)
PARTITIONED = dg.AssetSelection.assets(prefilled_forms, reconciled_returns)

prefill_job = dg.define_asset_job(
    "build_prefilled_forms", selection=dg.AssetSelection.assets(prefilled_forms), partitions_def=district_partitions,
    description="Build next period's prefilled forms (rosters, cells, workbooks) for one district.",
)  # fmt: skip
reconcile_job = dg.define_asset_job(
    "reconcile_returns", selection=dg.AssetSelection.assets(reconciled_returns), partitions_def=district_partitions,
    description="Reconcile one district's returned prefilled files.",
)  # fmt: skip
observed_job = dg.define_asset_job(
    "refresh_burden_observed", selection=dg.AssetSelection.assets(burden_observed),
    description="Rebuild the observed burden marts from every reconciled return.",
)  # fmt: skip


@dg.schedule(job=prefill_job, cron_schedule="30 0 1 * *", execution_timezone="Asia/Shanghai",
             default_status=dg.DefaultScheduleStatus.STOPPED)  # fmt: skip
def monthly_prefill_schedule(context: dg.ScheduleEvaluationContext):
    """On the 1st of every month at 00:30 Shanghai time, before staff open the new period's forms: one run per
    district (monthly forms every month; quarterly and annual forms pick up their next period the same way)."""
    stamp = context.scheduled_execution_time.strftime("%Y-%m")
    for district in district_partitions.get_partition_keys():
        yield dg.RunRequest(run_key=f"prefill:{stamp}:{district}", partition_key=district)


def returns_run_request(district: str, fingerprint: str) -> dg.RunRequest:
    """What the landing sensor asks for when a district folder changes: reconcile that district's returns."""
    return dg.RunRequest(
        run_key=f"returns:{district}:{fingerprint}", partition_key=district, job_name=reconcile_job.name
    )


JOBS = [prefill_job, reconcile_job, observed_job]
SCHEDULES = [monthly_prefill_schedule]

# This domain's definitions: pipelines/definitions.py autoloads them with dg.load_from_defs_folder.
defs = dg.Definitions(assets=ASSETS, asset_checks=CHECKS, jobs=JOBS, schedules=SCHEDULES)
