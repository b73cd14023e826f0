"""Resident entity resolution against the warehouse: person rows in, persons and their records out.

A run is one of:
- full: no earlier persons (or `full_rebuild`, or the spec changed): fit the model on all rows, cluster
  everything, carry existing person_ids forward by majority of their records, record merges and splits;
- incremental (the nightly default): only rows not yet assigned are compared, against all rows, with
  the stored model; existing persons stay whole and may grow or merge.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from assets.common import paths, warehouse
from assets.matching import FSModel, MatchEngine, SpecError, evaluate_clusters, load_spec
from assets.persons.rows import PERSON_ROWS

DEFAULT_SPEC = paths.SCHEMAS_DIR / "matching" / "residents.yaml"
PERSONS = "core.persons"
PERSON_RECORDS = "core.person_records"
HISTORY = "core.person_id_history"
MODEL = "core.person_match_model"

RECORD_COLUMNS = [
    "person_id", "record_id", "source_file", "row_number", "committee_code", "form_code", "period",
    "match_probability", "match_weight", "matched_record_id", "agreed_attributes", "assigned_run_id",
]  # fmt: skip


@dataclass
class PersonsRun:
    mode: str  # full | incremental
    persons: int
    records: int
    new_records: int
    history: pl.DataFrame
    stats: dict[str, object]


def _load_model(con: duckdb.DuckDBPyConnection) -> FSModel | None:
    if not warehouse.table_exists(con, MODEL):
        return None
    rows = warehouse.read_frame(con, f"SELECT * FROM {MODEL} ORDER BY comparison_order, level_index")
    if rows.is_empty():
        return None
    return FSModel.from_dict({"lambda": rows["lambda"][0], "levels": rows.to_dicts()})


def _fits(model: FSModel, spec) -> bool:
    return model.comparisons == [c.name for c in spec.comparisons] and model.levels == [
        [lv.name for lv in c.levels] for c in spec.comparisons
    ]


def _model_frame(model: FSModel, run_id: str, spec_entity: str) -> pl.DataFrame:
    order = {name: i for i, name in enumerate(model.comparisons)}
    return pl.DataFrame(model.to_records()).with_columns(
        pl.col("comparison").replace_strict(order, return_dtype=pl.Int32).alias("comparison_order"),
        pl.lit(model.lam).alias("lambda"),
        pl.lit(model.iterations).alias("em_iterations"),
        pl.lit(spec_entity).alias("entity"),
        pl.lit(run_id).alias("run_id"),
        pl.lit(datetime.now(UTC).replace(tzinfo=None)).alias("fitted_at"),
    )


def resolve_persons(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    spec_path: str | Path = DEFAULT_SPEC,
    full_rebuild: bool = False,
    memory_limit: str | None = None,
    env: Mapping[str, str] | None = None,
) -> PersonsRun:
    """Match `staging.person_rows` into core.persons / core.person_records / core.person_id_history.
    `env` holds the person-id salt the spec names (the asset passes its resource's environment)."""
    spec = load_spec(spec_path)
    # in record order: staging.person_rows is updated in place (rows.update_person_rows), not rewritten sorted
    rows = warehouse.read_frame(con, f"SELECT * FROM {PERSON_ROWS} ORDER BY record_id")
    previous_records = (
        warehouse.read_frame(con, f"SELECT * FROM {PERSON_RECORDS}")
        if warehouse.table_exists(con, PERSON_RECORDS)
        else None
    )
    previous = (
        previous_records.select("record_id", pl.col("person_id").alias("entity_id"))
        if previous_records is not None and previous_records.height
        else None
    )
    stored = _load_model(con) if previous is not None else None
    model = None if full_rebuild else stored
    # A full refit that the sanity report refuses keeps the stored model (when it still fits the spec).
    fallback = stored if stored is not None and _fits(stored, spec) else None
    engine = MatchEngine(spec, memory_limit=memory_limit, env=env)
    try:
        try:
            result = engine.resolve(rows, previous=previous, model=model, fallback=fallback)
        except SpecError:
            if model is None:
                raise
            # The spec changed since the model was stored: refit everything, keeping ids.
            engine.close()
            engine = MatchEngine(spec, memory_limit=memory_limit, env=env)
            model = None
            result = engine.resolve(rows, previous=previous, model=None, fallback=None)
    finally:
        engine.close()
    mode = "incremental" if model is not None else "full"
    now = datetime.now(UTC).replace(tzinfo=None)

    assigned = result.assignments.rename({"entity_id": "person_id", "agreed": "agreed_attributes"})
    assigned = assigned.with_columns(pl.lit(run_id).alias("assigned_run_id"))
    if mode == "incremental" and previous_records is not None:
        # Old records keep the explanation of their first match; only their person_id may change (merge).
        old = previous_records.drop("person_id").join(
            assigned.filter(~pl.col("is_new")).select("record_id", "person_id"), on="record_id", how="inner"
        )
        assigned = pl.concat(
            [assigned.filter(pl.col("is_new")).drop("is_new"), old.select(assigned.drop("is_new").columns)],
            how="vertical_relaxed",
        )
    else:
        assigned = assigned.drop("is_new")
    records = (
        assigned.join(
            rows.select("record_id", "source_file", "row_number", "committee_code", "form_code", "period"),
            on="record_id",
        )
        .select(RECORD_COLUMNS)
        .sort("person_id", "record_id")
    )
    persons = (
        result.entities.rename({"entity_id": "person_id"})
        .drop("anchor")
        .with_columns(pl.lit(run_id).alias("run_id"), pl.lit(now).alias("resolved_at"))
    )
    history = result.history.rename({"entity_id": "person_id", "related_entity_id": "related_person_id"})
    history = history.with_columns(
        pl.lit(run_id).alias("run_id"), pl.lit(mode).alias("mode"), pl.lit(now).alias("recorded_at")
    ).select("run_id", "mode", "recorded_at", "event", "person_id", "related_person_id", "record_count")

    warehouse.replace_table(con, PERSONS, persons)
    warehouse.replace_table(con, PERSON_RECORDS, records)
    warehouse.replace_rows(con, HISTORY, history, "run_id = ?", [run_id])
    if mode == "full":
        warehouse.replace_table(con, MODEL, _model_frame(result.model, run_id, spec.entity))
    stats = {**result.stats, "mode": mode}
    return PersonsRun(mode, persons.height, records.height, int(result.stats["new_records"]), history, stats)


# ------------------------------------------------------------------ evaluation against ground truth
def read_truth(path: str | Path) -> pl.DataFrame:
    """The generator's ground truth (source_file, row_number, person_id, ...)."""
    path = Path(path)
    frame = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path)
    return frame.with_columns(pl.col("row_number").cast(pl.Int64), pl.col("source_file").cast(pl.String))


def evaluate_warehouse(con: duckdb.DuckDBPyConnection, truth_path: str | Path) -> dict[str, float | int]:
    """Score core.person_records against the ground truth, joined on (source_file, row_number)."""
    truth = read_truth(truth_path).select("source_file", "row_number", pl.col("person_id").alias("true_id"))
    predicted = warehouse.read_frame(
        con,
        f"SELECT source_file, CAST(row_number AS BIGINT) AS row_number, person_id AS cluster_id FROM {PERSON_RECORDS}",
    )
    return evaluate_clusters(predicted, truth, on=["source_file", "row_number"])


def metrics_json(metrics: dict[str, float | int]) -> str:
    return json.dumps(metrics, indent=2, sort_keys=True)
