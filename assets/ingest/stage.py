"""Turning parsed files into staged, quarantined and skipped rows, with every row accounted for.

Per file, Python walks the physical rows once (layout, row kind, committee). All value work is then
done once, vectorized, over the long table of every value of every file in the batch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

import polars as pl

from assets.ingest import normalize
from assets.ingest.committees import Divisions
from assets.ingest.landing import LandingFile
from assets.ingest.layout import CatalogField
from assets.ingest.prepare import FileOutcome, Prepared, PreparedSheet, prepare  # noqa: F401 (stage.prepare, stage.FileOutcome)
from assets.ingest.reader import ParsedFile

INGEST_VERSION = "2026.11.3"  # bump when parsing or normalization changes: files are then read again
IDENTITY_ELEMENTS = ("person_name", "citizen_id", "birth_date", "birth_month", "sex")
# Value flags that mean "the delivered value is not of the field's type" (as opposed to doubtful).
TYPE_ERRORS = {
    "unparsed_date",
    "unparsed_year_month",
    "not_a_number",
    "not_an_integer",
    "unparsed_bool",
    "unparsed_sex",
}

RECORD_SCHEMA = {
    "record_id": pl.String, "file_id": pl.String, "file_hash": pl.String, "source_file": pl.String,
    "sheet": pl.String, "row_number": pl.Int32, "district_code": pl.String, "township_code": pl.String, "committee_code": pl.String,
    "form_code": pl.String, "period": pl.String, "raw_row": pl.String, "committee_problem": pl.String,
    "committee_flag": pl.String,
    "row_flags": pl.List(pl.String),
}  # fmt: skip
VALUE_SCHEMA = {
    "record_id": pl.String, "file_id": pl.String, "field_order": pl.Int32, "field_label": pl.String, "header_label": pl.String,
    "field_type": pl.String, "element_code": pl.String, "required": pl.Boolean, "value_raw": pl.String,
}  # fmt: skip
SKIPPED_SCHEMA = {
    "file_id": pl.String, "file_hash": pl.String, "source_file": pl.String, "sheet": pl.String, "row_number": pl.Int32,
    "district_code": pl.String, "reason": pl.String, "raw_text": pl.String,
}  # fmt: skip
# Data rows that another delivery replaced: a correction, identical bytes, or the committee's own file for rows
# a roll-up repeats. Counted per file so that rows read = staged + quarantined + skipped + replaced.
REPLACED_SCHEMA = {
    "file_id": pl.String, "file_hash": pl.String, "source_file": pl.String, "sheet": pl.String, "row_number": pl.Int32,
    "district_code": pl.String, "committee_code": pl.String, "reason": pl.String, "replaced_by": pl.String,
}  # fmt: skip


@dataclass
class Batch:
    """Columnar buffers for every row of a batch of files."""

    records: dict[str, list] = field(default_factory=lambda: {k: [] for k in RECORD_SCHEMA})
    values: dict[str, list] = field(default_factory=lambda: {k: [] for k in VALUE_SCHEMA})
    skipped: dict[str, list] = field(default_factory=lambda: {k: [] for k in SKIPPED_SCHEMA})
    replaced: dict[str, list] = field(default_factory=lambda: {k: [] for k in REPLACED_SCHEMA})
    outcomes: list[FileOutcome] = field(default_factory=list)


def record_id(file_id: str, sheet: str | None, row_number: int) -> str:
    """Stable across runs: the same row of the same delivered file always gets the same id."""
    return hashlib.sha1(f"{file_id}:{sheet or ''}:{row_number}".encode()).hexdigest()[:16]


def add_file(
    batch: Batch,
    file: LandingFile,
    file_id: str,
    file_hash: str,
    parsed: ParsedFile,
    catalog_fields: list[CatalogField],
    synonyms: dict[str, str],
    divisions: Divisions,
) -> FileOutcome:
    """Sort one parsed file's rows into the batch; raise FileRejected when the file has no usable layout."""
    return add_prepared(batch, prepare(file, file_id, file_hash, parsed, catalog_fields, synonyms, divisions))


def add_prepared(
    batch: Batch,
    prepared: Prepared,
    replaced_by: dict[str, str] | None = None,
    status: str = "ingested",
    reason: str = "superseded",
) -> FileOutcome:
    """Stage a prepared file's rows. Data rows whose committee is in `replaced_by` (committee → the file that
    delivers it) go to the replaced rows instead, with `reason`; '*' replaces every data row."""
    p = prepared
    outcome = p.outcome()
    outcome.status = status
    replaced_by = replaced_by or {}
    skip, rep = batch.skipped, batch.replaced
    for s in p.sheets:
        for row_number, why, cells in s.plan.skipped:
            skip["file_id"].append(p.file_id)
            skip["file_hash"].append(p.file_hash)
            skip["source_file"].append(p.file.source_file)
            skip["sheet"].append(s.plan.name)
            skip["row_number"].append(row_number)
            skip["district_code"].append(p.file.district_code)
            skip["reason"].append(why)
            skip["raw_text"].append(",".join(c for c in cells if c)[:500])
        keep: list[int] = []
        for i, (row_number, _) in enumerate(s.plan.data_rows):
            committee = s.committees[i]
            winner = replaced_by.get("*") or (replaced_by.get(committee) if committee else None)
            if winner is None:
                keep.append(i)
                continue
            rep["file_id"].append(p.file_id)
            rep["file_hash"].append(p.file_hash)
            rep["source_file"].append(p.file.source_file)
            rep["sheet"].append(s.plan.name)
            rep["row_number"].append(row_number)
            rep["district_code"].append(p.file.district_code)
            rep["committee_code"].append(committee)
            rep["reason"].append(reason)
            rep["replaced_by"].append(winner)
        _add_data_rows(batch, p, s, keep)
    batch.outcomes.append(outcome)
    return outcome


def add_replaced_file(batch: Batch, outcome: FileOutcome, parsed: ParsedFile | None, reason: str) -> None:
    """A file none of whose rows can be told apart (a copy of an unreadable file): every physical row replaced."""
    rep = batch.replaced
    for sheet in parsed.sheets if parsed else []:
        for row_number, _ in sheet.rows:
            rep["file_id"].append(outcome.file_id)
            rep["file_hash"].append(outcome.file_hash)
            rep["source_file"].append(outcome.file.source_file)
            rep["sheet"].append(sheet.name)
            rep["row_number"].append(row_number)
            rep["district_code"].append(outcome.file.district_code)
            rep["committee_code"].append(outcome.file.committee_code)
            rep["reason"].append(reason)
            rep["replaced_by"].append(outcome.replaced_by)
    batch.outcomes.append(outcome)


def _add_data_rows(batch: Batch, p: Prepared, s: PreparedSheet, keep: list[int]) -> None:
    """Append a sheet's kept data rows column by column (a row loop over every cell would dominate ingest time)."""
    n = len(keep)
    if not n:
        return
    file, sheet, layout = p.file, s.plan.name, s.plan.layout
    rows = [s.plan.data_rows[i] for i in keep]
    numbers = [number for number, _ in rows]
    ids = [record_id(p.file_id, sheet, number) for number in numbers]
    committees = [s.committees[i] for i in keep]
    rec = batch.records
    rec["record_id"] += ids
    rec["file_id"] += [p.file_id] * n
    rec["file_hash"] += [p.file_hash] * n
    rec["source_file"] += [file.source_file] * n
    rec["sheet"] += [sheet] * n
    rec["row_number"] += numbers
    rec["district_code"] += [file.district_code] * n
    rec["township_code"] += [c[:9] if c else None for c in committees]
    rec["committee_code"] += committees
    rec["form_code"] += [file.form_code] * n
    rec["period"] += [file.period] * n
    rec["raw_row"] += [json.dumps(cells, ensure_ascii=False) for _, cells in rows]
    rec["committee_problem"] += [s.problems[i] for i in keep]
    rec["committee_flag"] += [s.committee_flags[i] for i in keep]
    rec["row_flags"] += [s.plan.row_flags.get(number, []) for number in numbers]
    val = batch.values
    for col in layout.columns:
        i = col.index
        val["record_id"] += ids
        val["file_id"] += [p.file_id] * n
        val["field_order"] += [col.field_order] * n
        val["field_label"] += [col.field_label] * n
        val["header_label"] += [col.header_label] * n
        val["field_type"] += [col.field_type] * n
        val["element_code"] += [col.element_code] * n
        val["required"] += [col.required] * n
        val["value_raw"] += [cells[i] if i < len(cells) else "" for _, cells in rows]


@dataclass
class StagedBatch:
    records: pl.DataFrame  # staging.form_records
    values: pl.DataFrame  # staging.form_values
    quarantine: pl.DataFrame  # quarantine.rows
    skipped: pl.DataFrame  # raw.skipped_rows
    replaced: pl.DataFrame  # raw.replaced_rows


def finish(batch: Batch, run_id: str, as_of: dt.date | None = None) -> StagedBatch:
    """Normalize every value, derive identity and cross-checks, and split usable rows from unusable ones.

    `as_of` (the run date; today by default) is the latest birth date an ID may encode. Values are judged
    per delivered column (file, field): serial dates and float-damaged IDs are column properties.
    """
    records = pl.DataFrame(batch.records, schema=RECORD_SCHEMA)
    values = pl.DataFrame(batch.values, schema=VALUE_SCHEMA)
    skipped = pl.DataFrame(batch.skipped, schema=SKIPPED_SCHEMA)
    replaced = pl.DataFrame(batch.replaced, schema=REPLACED_SCHEMA)

    values = normalize.normalize_frame_by_type(
        values, column_key=("file_id", "field_order", "header_label"), as_of=as_of
    ).collect()
    # Names are text to the catalog but get the name rules (inner spaces between characters removed).
    values = values.with_columns(
        pl.when(pl.col("element_code") == "person_name")
        .then(normalize.normalize_name(pl.col("value_raw")))
        .otherwise(pl.col("value"))
        .alias("value")
    )

    identity = _identity(values, as_of)
    records = _with_flags(records.join(identity, on="record_id", how="left"), values)

    reasons = _quarantine_reasons(records, values)
    quarantined = records.join(reasons, on="record_id", how="inner")
    staged = records.join(reasons, on="record_id", how="anti")
    quarantine = quarantined.select(
        "record_id", "file_id", "file_hash", "source_file", "sheet", "row_number",
        pl.lit(run_id).alias("run_id"), "district_code", "form_code", "period", "committee_code",
        "reason_code", "field",
        pl.format("{} row {}: {}", "source_file", "row_number", "detail").alias("message"),
        "raw_row",
    )  # fmt: skip
    staged_records = staged.select(
        "record_id", "file_id", "file_hash", "source_file", "sheet", "row_number", pl.lit(run_id).alias("run_id"),
        "district_code", "township_code", "committee_code", "form_code", "period",
        "person_name", "id_number", "id_number_raw", "id_status", "id_birth_date", "id_sex", "flags",
    )  # fmt: skip
    staged_values = values.join(staged.select("record_id", "file_id", "district_code", "form_code"), on="record_id").select(
        "record_id", "file_id", "district_code", "form_code", "field_order", "field_label", "header_label",
        "field_type", "element_code", "value_raw", "value", "value_flag",
    )  # fmt: skip
    return StagedBatch(staged_records, staged_values, quarantine, skipped, replaced)


def _first_by_element(values: pl.DataFrame, element: str, column: str, alias: str) -> pl.DataFrame:
    return (
        values.filter(pl.col("element_code") == element)
        .sort("record_id", "field_order", nulls_last=True)
        .group_by("record_id", maintain_order=True)
        .agg(pl.col(column).first().alias(alias))
    )


def _identity(values: pl.DataFrame, as_of: dt.date | None = None) -> pl.DataFrame:
    """Per record: name, ID (cleaned, raw, status, birth date and sex it encodes), own birth date and sex."""
    ids = _first_by_element(values, "citizen_id", "value_raw", "id_number_raw").join(
        _first_by_element(values, "citizen_id", "value_flag", "_flag"), on="record_id", how="left"
    )
    ids = ids.with_columns(
        normalize.normalize_id_number(pl.col("id_number_raw"), max_birth_date=as_of).alias("_id")
    )
    # The column's judgement wins: an ID in a float-damaged column is precision_lost even if it looks valid.
    status = (
        pl.when(pl.col("_flag") == "precision_lost")
        .then(pl.lit("precision_lost"))
        .otherwise(pl.col("_id").struct.field("status"))
    )
    lost = status == "precision_lost"
    ids = ids.select(
        "record_id",
        "id_number_raw",
        # A malformed or float-damaged number is no identifier; the delivered text stays in id_number_raw.
        pl.when(~status.is_in(["malformed", "precision_lost"]))
        .then(pl.col("_id").struct.field("value"))
        .alias("id_number"),
        status.alias("id_status"),
        pl.when(~lost).then(pl.col("_id").struct.field("birth_date")).alias("id_birth_date"),
        pl.when(~lost).then(pl.col("_id").struct.field("sex")).alias("id_sex"),
    )
    out = values.select("record_id").unique(maintain_order=True)
    for frame in (
        _first_by_element(values, "person_name", "value", "person_name"),
        ids,
        _first_by_element(values, "birth_date", "value", "row_birth_date"),
        _first_by_element(values, "birth_month", "value", "row_birth_month"),
        _first_by_element(values, "sex", "value", "row_sex"),
    ):
        out = out.join(frame, on="record_id", how="left")
    return out.with_columns(
        pl.col("id_status").fill_null("blank"),
    )


def _with_flags(records: pl.DataFrame, values: pl.DataFrame) -> pl.DataFrame:
    """Add the doubtful-but-usable findings per record as a sorted list column `flags`."""
    empty = pl.lit([], dtype=pl.List(pl.String))
    per_value = (
        values.filter(pl.col("value_flag").is_not_null())
        .group_by("record_id")
        .agg(pl.col("value_flag").unique().alias("_value_flags"))
    )
    missing_required = (
        values.filter(pl.col("required") & pl.col("value").is_null())
        .group_by("record_id")
        .agg(pl.format("missing_required:{}", "field_label").unique().alias("_missing"))
    )
    # Compared at the precision delivered: a partial date (1941, 1941-02) agrees with any day inside it.
    id_birth = pl.col("id_birth_date").dt.to_string("%Y-%m-%d")
    birth_mismatch = pl.col("id_birth_date").is_not_null() & (
        (pl.col("row_birth_date").is_not_null() & ~id_birth.str.starts_with(pl.col("row_birth_date")))
        | (pl.col("row_birth_month").is_not_null() & ~id_birth.str.starts_with(pl.col("row_birth_month")))
    )
    sex_mismatch = (
        pl.col("id_sex").is_not_null()
        & pl.col("row_sex").is_in(["男", "女"])
        & (pl.col("id_sex") != pl.col("row_sex"))
    )

    def tag(condition: pl.Expr, name: str) -> pl.Expr:
        return pl.when(condition.fill_null(False)).then(pl.lit([name])).otherwise(empty)

    flags = pl.concat_list(
        pl.col("row_flags").fill_null(
            empty
        ),  # hidden_row, duplicate_row, extra_cells … (assets/ingest/sheets.py)
        pl.col("_value_flags").fill_null(empty),
        pl.col("_missing").fill_null(empty),
        tag(birth_mismatch, "birth_date_mismatch"),
        tag(sex_mismatch, "sex_mismatch"),
        tag(pl.col("id_status") == "converted_15", "converted_15"),
        tag(pl.col("committee_flag") == "committee_mismatch", "committee_mismatch"),
    )
    return (
        records.join(per_value, on="record_id", how="left")
        .join(missing_required, on="record_id", how="left")
        .with_columns(flags.list.unique().list.sort().alias("flags"))
        .drop("_value_flags", "_missing", "committee_flag", "row_flags")
    )


def _quarantine_reasons(records: pl.DataFrame, values: pl.DataFrame) -> pl.DataFrame:
    """record_id → (reason_code, field, detail) for rows that cannot be used; the first reason wins."""
    committee = records.filter(pl.col("committee_problem").is_not_null()).select(
        "record_id",
        pl.lit("unknown_committee").alias("reason_code"),
        pl.lit("居委会").alias("field"),
        pl.format("field '居委会': {}", "committee_problem").alias("detail"),
    )
    has_identity_fields = (
        values.filter(pl.col("element_code").is_in(["person_name", "citizen_id"]))
        .select("record_id")
        .unique()
    )
    no_identifier = (
        records.join(has_identity_fields, on="record_id", how="semi")
        .filter(pl.col("person_name").is_null() & pl.col("id_number").is_null())
        .select(
            "record_id",
            pl.lit("no_identifier").alias("reason_code"),
            pl.lit("姓名/公民身份号码").alias("field"),
            pl.lit("fields '姓名' and '公民身份号码' are both empty: the row identifies nobody").alias(
                "detail"
            ),
        )
    )
    wrong_type = (
        values.filter(pl.col("required") & pl.col("value_flag").is_in(list(TYPE_ERRORS)))
        .sort("record_id", "field_order")
        .group_by("record_id", maintain_order=True)
        .agg(pl.all().first())
        .select(
            "record_id",
            pl.lit("invalid_required_value").alias("reason_code"),
            pl.col("field_label").alias("field"),
            pl.format(
                "field '{}': required {} value '{}' is not valid ({})",
                "field_label",
                "field_type",
                "value_raw",
                "value_flag",
            ).alias("detail"),
        )
    )
    reasons = pl.concat([committee, no_identifier, wrong_type])
    return reasons.unique(subset="record_id", keep="first", maintain_order=True)
