"""Run a Great Expectations (1.x) suite kept as JSON in schemas/expectations/ against a polars frame.

GX has no polars or DuckDB datasource, so the frame goes through pandas into an ephemeral context.
GX is imported inside the function: importing it costs seconds, and most step processes never need it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from assets.common import paths, vocabulary

SUITES_DIR = paths.SCHEMAS_DIR / "expectations"


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    element_count: int
    unexpected_count: int
    unexpected_percent: float
    examples: list[object]


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    success: bool
    outcomes: list[ExpectationOutcome]

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]


def load_suite_json(name: str) -> dict:
    path = SUITES_DIR / f"{name}.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document.get("expectations"), list) or not document["expectations"]:
        raise ValueError(f"{path}: an expectation suite needs a non-empty 'expectations' list")
    for i, expectation in enumerate(document["expectations"]):
        if "type" not in expectation or "kwargs" not in expectation:
            raise ValueError(f"{path}: expectation #{i} needs 'type' and 'kwargs'")
    return resolve_vocabularies(document)


def resolve_vocabularies(document: dict) -> dict:
    """Replace a `value_set` written as {"vocabulary": NAME} by that vocabulary's values (the one contract)."""
    for expectation in document["expectations"]:
        value_set = expectation["kwargs"].get("value_set")
        if isinstance(value_set, dict):
            expectation["kwargs"]["value_set"] = list(vocabulary.vocabulary(value_set["vocabulary"]))
    return document


def suite_columns(document: dict) -> set[str]:
    """The columns a suite's expectations name: the only ones worth reading for it."""
    return {e["kwargs"][k] for e in document["expectations"] for k in ("column", "column_A", "column_B")
            if k in e["kwargs"]}  # fmt: skip


def run_suite(frame: pl.DataFrame, name: str, suite_dir: Path | None = None) -> SuiteOutcome:
    """Validate `frame` with the suite `schemas/expectations/<name>.json`."""
    import great_expectations as gx
    from great_expectations.core import ExpectationSuite
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    document = (load_suite_json(name) if suite_dir is None
                else resolve_vocabularies(json.loads((suite_dir / f"{name}.json").read_text())))  # fmt: skip
    context = gx.get_context(mode="ephemeral")
    try:
        context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    except Exception:  # progress bars are cosmetic; older/newer configs may refuse the dict
        pass
    source = context.data_sources.add_pandas(f"{name}_source")
    batch_definition = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("whole")
    suite = context.suites.add(
        ExpectationSuite(
            name=name, expectations=[ExpectationConfiguration(**e) for e in document["expectations"]]
        )
    )
    # Only the columns the suite names go to pandas, as Arrow-backed columns: at city scale the staged values
    # table has millions of rows, and a full NumPy-object copy of it would dominate the run's memory.
    used = suite_columns(document)
    missing = sorted(used - set(frame.columns))
    if missing:
        raise ValueError(f"suite {name} names column(s) {', '.join(missing)} that the table does not have")
    plain = frame.select([c for c in frame.columns if c in used])
    batch = batch_definition.get_batch(
        batch_parameters={"dataframe": plain.to_pandas(use_pyarrow_extension_array=True)}
    )
    result = batch.validate(suite, result_format="SUMMARY")
    outcomes = []
    for r in result.results:
        res = r.result or {}
        outcomes.append(
            ExpectationOutcome(
                expectation=r.expectation_config.type,
                column=r.expectation_config.kwargs.get("column"),
                success=bool(r.success),
                element_count=int(res.get("element_count") or frame.height),
                unexpected_count=int(res.get("unexpected_count") or 0),
                unexpected_percent=float(res.get("unexpected_percent") or 0.0),
                examples=[str(v) for v in (res.get("partial_unexpected_list") or [])[:10]],
            )
        )
    return SuiteOutcome(suite=name, success=bool(result.success), outcomes=outcomes)
