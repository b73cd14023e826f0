"""Dagster wiring for resident entity resolution (group `persons`)."""

import json
from pathlib import Path

import dagster as dg
import polars as pl

from assets.common.checks import check_result
from assets.common.gate import Gate
from assets.common.meta import table_metadata
from assets.common.resources import WAREHOUSE_POOL, RunEnvironmentResource, WarehouseResource
from assets.common.warehouse import markdown_preview, read_frame
from assets.persons import resolve, rows, validate

OWNERS = ["team:jianfu-data"]
KIND = {"polars", "duckdb"}
PERSON_ROWS_KEY = dg.AssetKey(["staging", "person_rows"])
KEYS = {
    "core.persons": dg.AssetKey(["core", "persons"]),
    "core.person_records": dg.AssetKey(["core", "person_records"]),
    "core.person_id_history": dg.AssetKey(["core", "person_id_history"]),
    "core.person_match_model": dg.AssetKey(["core", "person_match_model"]),
}
DESCRIPTIONS = {
    "core.persons": "One row per resident with golden attributes chosen by survivorship rules (valid ID over "
    "invalid, latest phone, most frequent name); person_id is stable from night to night.",
    "core.person_records": "Every staged row tied to its person, with the match probability, the row it matched "
    "and which attributes agreed, so anyone can see why two rows were joined.",
    "core.person_id_history": "Creations, merges, splits and retirements of person_ids, run by run.",
    "core.person_match_model": "The Fellegi–Sunter m/u probabilities estimated by EM at the last full run; "
    "nightly runs score new rows with it.",
}


class PersonsConfig(dg.Config):
    full_rebuild: bool = False  # refit the model and recluster every row (ids are still carried forward)
    spec_path: str = str(resolve.DEFAULT_SPEC)
    ground_truth_path: str = ""  # the generator's ground_truth.parquet: adds evaluation metrics
    memory_limit: str = ""


@dg.asset(key=PERSON_ROWS_KEY, group_name="persons", kinds=KIND, owners=OWNERS, pool=WAREHOUSE_POOL,
          deps=[dg.AssetKey(["staging", "form_records"]), dg.AssetKey(["staging", "form_values"]),
                dg.AssetKey(["catalog", "form_fields"])],
          description="One row per staged record with its identity attributes (name, ID, sex, birth date, phone, "
                      "addresses) pivoted out of form_values: the input of resident matching.")  # fmt: skip
def person_rows(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, run_env: RunEnvironmentResource
) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        if (gate := Gate(context, con, run_env.environ())).current():  # inputs unchanged: common/gate.py
            return gate.skipped()[0]
        mode, added, deleted = rows.update_person_rows(con)  # only rows of new or removed records
        context.log.info(f"person rows: {mode} update, {added} rows added, {deleted} deleted")
        gate.record()
        fill = read_frame(
            con,
            "SELECT " + ", ".join(f"round(avg(({c} IS NOT NULL)::INT), 3) AS {c}" for c in
                                  ("person_name", "id_number", "sex", "birth_date", "phone", "household_address",
                                   "residence_address")) + f" FROM {rows.PERSON_ROWS}",
        )  # fmt: skip
        return dg.MaterializeResult(
            metadata={
                **table_metadata(con, rows.PERSON_ROWS),
                "update": dg.MetadataValue.text(f"{mode}: {added} rows added, {deleted} deleted"),
                "fill_rates": dg.MetadataValue.md(markdown_preview(fill)),
            }
        )


@dg.multi_asset(
    specs=[dg.AssetSpec(key, description=DESCRIPTIONS[table], group_name="persons", kinds=KIND, owners=OWNERS,
                        deps=[PERSON_ROWS_KEY]) for table, key in KEYS.items()],
    pool=WAREHOUSE_POOL,
)  # fmt: skip
def persons(
    context: dg.AssetExecutionContext,
    config: PersonsConfig,
    warehouse: WarehouseResource,
    run_env: RunEnvironmentResource,
):
    """Match new person rows (incremental) or all of them (full) into persons with stable ids."""
    env = run_env.environ()  # the person-id salt named by the spec's identity.salt_env, and JIANFU_ENV
    with warehouse.connect() as con:
        if (gate := Gate(context, con, env)).current() and not config.full_rebuild:  # assets/common/gate.py
            yield from gate.skipped()
            return
        run = resolve.resolve_persons(
            con,
            run_id=context.run.run_id,
            spec_path=config.spec_path,
            full_rebuild=config.full_rebuild,
            memory_limit=config.memory_limit or None,
            env=env,
        )
        context.log.info(f"persons: {run.mode} run, {run.new_records} new rows, {run.persons} persons")
        gate.record()
        events = run.history.group_by("event").len().sort("event")
        extra: dict[str, object] = {
            "mode": run.mode,
            "new_records": dg.MetadataValue.int(run.new_records),
            "candidate_pairs": dg.MetadataValue.int(int(run.stats.get("candidate_pairs", 0))),
            "pairs_by_blocking_rule": dg.MetadataValue.json(run.stats.get("pairs_by_rule", {})),
            "seconds": dg.MetadataValue.json(run.stats.get("seconds", {})),
            "id_events": dg.MetadataValue.md(markdown_preview(events)),
            # the fitted weights table's verdict (docs/matching.md: the sanity report)
            "model_sanity": dg.MetadataValue.md("\n".join(run.stats.get("model_sanity", [])) or "-"),
        }
        if config.ground_truth_path:
            if not Path(config.ground_truth_path).exists():
                raise dg.Failure(f"ground truth {config.ground_truth_path} not found")
            metrics = resolve.evaluate_warehouse(con, config.ground_truth_path)
            context.log.info("evaluation: " + json.dumps(metrics))
            extra.update({f"eval_{k}": (dg.MetadataValue.float(float(v)) if isinstance(v, float)
                                        else dg.MetadataValue.int(int(v))) for k, v in metrics.items()})  # fmt: skip
        for table, key in KEYS.items():
            meta = table_metadata(con, table)
            if table == "core.persons":
                meta.update(extra)
            yield dg.MaterializeResult(asset_key=key, metadata=meta)


@dg.asset_check(asset=KEYS["core.person_records"], blocking=True,
                description="Every staged record belongs to exactly one person, and every person record is staged.")  # fmt: skip
def every_record_one_person(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        failing, total = validate.record_coverage(con)
    return check_result(what="staged records not tied to exactly one person", failing=failing, total=total)


@dg.asset_check(asset=KEYS["core.persons"], blocking=True,
                description="Each person's record_count equals its rows in core.person_records; no empty person.")  # fmt: skip
def persons_match_records(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        failing, total = validate.person_consistency(con)
    return check_result(what="persons inconsistent with their records", failing=failing, total=total)


@dg.asset_check(asset=KEYS["core.persons"],
                description="Warns about persons holding two different valid ID numbers.")  # fmt: skip
def no_person_with_two_ids(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        failing, total = validate.conflicting_ids(con)
    return check_result(what="persons with two valid ID numbers", failing=failing, total=total,
                        severity=dg.AssetCheckSeverity.WARN)  # fmt: skip


@dg.asset_check(asset=KEYS["core.person_id_history"],
                description="Warns when a run merged or split more than 1% of the persons (a model or data shift).")  # fmt: skip
def id_churn(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        last = read_frame(con, f"SELECT * FROM {resolve.HISTORY} WHERE run_id = (SELECT arg_max(run_id, recorded_at) "
                               f"FROM {resolve.HISTORY})")  # fmt: skip
        total = con.execute(f"SELECT count(*) FROM {resolve.PERSONS}").fetchall()[0][0]
    failing = last.filter(pl.col("event").is_in(["merge", "split"]))
    return check_result(what="persons merged or split in the last run", failing=failing, total=total,
                        severity=dg.AssetCheckSeverity.WARN, tolerance=int(0.01 * total))  # fmt: skip


ASSETS = [person_rows, persons]
CHECKS = [every_record_one_person, persons_match_records, no_person_with_two_ids, id_churn]

# This domain's definitions: pipelines/definitions.py autoloads them with dg.load_from_defs_folder.
defs = dg.Definitions(assets=ASSETS, asset_checks=CHECKS)
