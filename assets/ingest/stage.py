"""Turning parsed files into staged, quarantined and skipped rows, with every row accounted for.

Per file, Python walks the physical rows once (layout, row kind, committee). All value work is then
done once, vectorized, over the long table of every value of every file in the batch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import polars as pl

from assets.ingest import normalize
from assets.ingest.layout import CatalogField, FileLayout, label_key
from assets.ingest.reader import FileRejected, LandingFile, ParsedFile
from assets.ingest.sheets import plan_file

INGEST_VERSION = "2026.11.2"  # bump when parsing or normalization changes: files are then read again
IDENTITY_ELEMENTS = ("person_name", "citizen_id", "birth_date", "birth_month", "sex")
# Value flags that mean "the delivered value is not of the field's type" (as opposed to doubtful).
TYPE_ERRORS = {"unparsed_date", "unparsed_year_month", "not_a_number", "not_an_integer", "unparsed_bool", "unparsed_sex"}

RECORD_SCHEMA = {
    "record_id": pl.String, "file_id": pl.String, "file_hash": pl.String, "source_file": pl.String,
    "sheet": pl.String, "row_number": pl.Int32, "district_code": pl.String, "township_code": pl.String, "committee_code": pl.String,
    "form_code": pl.String, "period": pl.String, "raw_row": pl.String, "committee_problem": pl.String,
    "row_flags": pl.List(pl.String),
}  # fmt: skip
VALUE_SCHEMA = {
    "record_id": pl.String, "field_order": pl.Int32, "field_label": pl.String, "header_label": pl.String,
    "field_type": pl.String, "element_code": pl.String, "required": pl.Boolean, "value_raw": pl.String,
}  # fmt: skip
SKIPPED_SCHEMA = {
    "file_id": pl.String, "file_hash": pl.String, "source_file": pl.String, "sheet": pl.String, "row_number": pl.Int32,
    "district_code": pl.String, "reason": pl.String, "raw_text": pl.String,
}  # fmt: skip


@dataclass
class Divisions:
    """Committee lookups used to resolve the committee column of district-wide files."""

    committees: set[str]
    by_name: dict[tuple[str, str], list[str]]  # (district_code, committee name key) → codes
    by_township_name: dict[tuple[str, str, str], str]  # (district, township key, committee key) → code

    @classmethod
    def from_frame(cls, divisions: pl.DataFrame) -> Divisions:
        by_name: dict[tuple[str, str], list[str]] = {}
        by_township: dict[tuple[str, str, str], str] = {}
        for row in divisions.iter_rows(named=True):
            key = (row["district_code"], label_key(row["committee_name"]))
            by_name.setdefault(key, []).append(row["committee_code"])
            by_township[(row["district_code"], label_key(row["township_name"]), label_key(row["committee_name"]))] = row[
                "committee_code"
            ]
        return cls(set(divisions["committee_code"]), by_name, by_township)

    def resolve(self, district: str, committee_cell: str, township_cell: str | None) -> tuple[str | None, str | None]:
        """(committee_code, problem): a 12-digit code or a name unique in the district (or its 街镇)."""
        value = label_key(committee_cell)
        if not value:
            return None, "committee cell is empty"
        if value.isdigit() and len(value) == 12:
            if value in self.committees and value.startswith(district):
                return value, None
            return None, f"committee code {value} is not a division of district {district}"
        if township_cell and label_key(township_cell):
            code = self.by_township_name.get((district, label_key(township_cell), value))
            if code:
                return code, None
        codes = self.by_name.get((district, value), [])
        if len(codes) == 1:
            return codes[0], None
        if not codes:
            return None, f"no committee named '{committee_cell.strip()}' in district {district}"
        return None, f"committee name '{committee_cell.strip()}' is ambiguous in district {district} ({len(codes)} matches)"


@dataclass
class FileOutcome:
    """What happened to one file, before value-level work."""

    file: LandingFile
    file_id: str
    file_hash: str
    status: str  # ingested | rejected
    reason_code: str | None = None
    message: str | None = None
    encoding: str | None = None
    sheet: str | None = None
    rows_read: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class Batch:
    """Columnar buffers for every row of a batch of files."""

    records: dict[str, list] = field(default_factory=lambda: {k: [] for k in RECORD_SCHEMA})
    values: dict[str, list] = field(default_factory=lambda: {k: [] for k in VALUE_SCHEMA})
    skipped: dict[str, list] = field(default_factory=lambda: {k: [] for k in SKIPPED_SCHEMA})
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
    plan = plan_file(parsed, catalog_fields, synonyms)  # every sheet: read with a layout, or skipped with a reason
    if not plan.sheets:
        raise FileRejected(
            "no_header",
            f"{file.source_file}: no header row naming the fields of form {file.form_code} in the first rows",
        )
    if file.committee_code is None and any(s.layout.committee_col is None for s in plan.sheets):
        raise FileRejected(
            "no_committee",
            f"{file.source_file}: the file name does not start with a 12-digit committee code "
            "and the sheet has no committee column (居委会 / 社区 …)",
        )
    warnings = [w for s in plan.sheets for w in _layout_warnings(file, s.layout)] + plan.notes
    outcome = FileOutcome(file, file_id, file_hash, "ingested", encoding=parsed.encoding, sheet=plan.sheets[0].name,
                          rows_read=plan.rows_read, warnings=warnings)  # fmt: skip
    skip = batch.skipped
    for sheet in plan.sheets:
        for row_number, reason, cells in sheet.skipped:
            skip["file_id"].append(file_id)
            skip["file_hash"].append(file_hash)
            skip["source_file"].append(file.source_file)
            skip["sheet"].append(sheet.name)
            skip["row_number"].append(row_number)
            skip["district_code"].append(file.district_code)
            skip["reason"].append(reason)
            skip["raw_text"].append(",".join(c for c in cells if c)[:500])
        _add_data_rows(batch, file, file_id, file_hash, sheet.name, sheet.layout, sheet.data_rows, divisions,
                       sheet.row_flags)  # fmt: skip
    batch.outcomes.append(outcome)
    return outcome


def _add_data_rows(
    batch: Batch,
    file: LandingFile,
    file_id: str,
    file_hash: str,
    sheet: str | None,
    layout: FileLayout,
    data_rows: list[tuple[int, list[str]]],
    divisions: Divisions,
    row_flags: dict[int, list[str]] | None = None,
) -> None:
    """Append a file's data rows column by column (a row loop over every cell would dominate ingest time)."""
    n = len(data_rows)
    if not n:
        return
    numbers = [number for number, _ in data_rows]
    ids = [record_id(file_id, sheet, number) for number in numbers]
    if file.committee_code is not None:
        committees: list[str | None] = [file.committee_code] * n
        problems: list[str | None] = [None] * n
    else:
        committees, problems = [], []
        for _, cells in data_rows:
            township = cells[layout.township_col] if layout.township_col is not None and layout.township_col < len(cells) else None
            cell = cells[layout.committee_col] if layout.committee_col is not None and layout.committee_col < len(cells) else ""
            code, problem = divisions.resolve(file.district_code, cell, township)
            committees.append(code)
            problems.append(problem)
    rec = batch.records
    rec["record_id"] += ids
    rec["file_id"] += [file_id] * n
    rec["file_hash"] += [file_hash] * n
    rec["source_file"] += [file.source_file] * n
    rec["sheet"] += [sheet] * n
    rec["row_number"] += numbers
    rec["district_code"] += [file.district_code] * n
    rec["township_code"] += [c[:9] if c else None for c in committees]
    rec["committee_code"] += committees
    rec["form_code"] += [file.form_code] * n
    rec["period"] += [file.period] * n
    rec["raw_row"] += [json.dumps(cells, ensure_ascii=False) for _, cells in data_rows]
    rec["committee_problem"] += problems
    rec["row_flags"] += [(row_flags or {}).get(number, []) for number in numbers]
    val = batch.values
    for col in layout.columns:
        i = col.index
        val["record_id"] += ids
        val["field_order"] += [col.field_order] * n
        val["field_label"] += [col.field_label] * n
        val["header_label"] += [col.header_label] * n
        val["field_type"] += [col.field_type] * n
        val["element_code"] += [col.element_code] * n
        val["required"] += [col.required] * n
        val["value_raw"] += [cells[i] if i < len(cells) else "" for _, cells in data_rows]


def _layout_warnings(file: LandingFile, layout: FileLayout) -> list[str]:
    warnings = [f"missing column {f.field_label}" for f in layout.missing_fields]
    warnings += [f"column '{c.header_label}' read as {c.field_label} ({c.match})" for c in layout.renamed]
    warnings += [f"extra column '{c.header_label}'" for c in layout.extra]
    return warnings


@dataclass
class StagedBatch:
    records: pl.DataFrame  # staging.form_records
    values: pl.DataFrame  # staging.form_values
    quarantine: pl.DataFrame  # quarantine.rows
    skipped: pl.DataFrame  # raw.skipped_rows


def finish(batch: Batch, run_id: str) -> StagedBatch:
    """Normalize every value, derive identity and cross-checks, and split usable rows from unusable ones."""
    records = pl.DataFrame(batch.records, schema=RECORD_SCHEMA)
    values = pl.DataFrame(batch.values, schema=VALUE_SCHEMA)
    skipped = pl.DataFrame(batch.skipped, schema=SKIPPED_SCHEMA)

    values = normalize.normalize_frame_by_type(values).collect()
    # Names are text to the catalog but get the name rules (inner spaces between characters removed).
    values = values.with_columns(
        pl.when(pl.col("element_code") == "person_name")
        .then(normalize.normalize_name(pl.col("value_raw")))
        .otherwise(pl.col("value"))
        .alias("value")
    )

    identity = _identity(values)
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
    return StagedBatch(staged_records, staged_values, quarantine, skipped)


def _first_by_element(values: pl.DataFrame, element: str, column: str, alias: str) -> pl.DataFrame:
    return (
        values.filter(pl.col("element_code") == element)
        .sort("record_id", "field_order", nulls_last=True)
        .group_by("record_id", maintain_order=True)
        .agg(pl.col(column).first().alias(alias))
    )


def _identity(values: pl.DataFrame) -> pl.DataFrame:
    """Per record: name, ID (cleaned, raw, status, birth date and sex it encodes), own birth date and sex."""
    ids = _first_by_element(values, "citizen_id", "value_raw", "id_number_raw").with_columns(
        normalize.normalize_id_number(pl.col("id_number_raw")).alias("_id")
    )
    ids = ids.select(
        "record_id",
        "id_number_raw",
        # A malformed number is no identifier; the delivered text stays in id_number_raw.
        pl.when(pl.col("_id").struct.field("status") != "malformed")
        .then(pl.col("_id").struct.field("value"))
        .alias("id_number"),
        pl.col("_id").struct.field("status").alias("id_status"),
        pl.col("_id").struct.field("birth_date").alias("id_birth_date"),
        pl.col("_id").struct.field("sex").alias("id_sex"),
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
    birth_mismatch = pl.col("id_birth_date").is_not_null() & (
        (pl.col("row_birth_date").is_not_null()
         & (pl.col("id_birth_date").dt.to_string("%Y-%m-%d") != pl.col("row_birth_date")))
        | (pl.col("row_birth_month").is_not_null()
           & (pl.col("id_birth_date").dt.to_string("%Y-%m") != pl.col("row_birth_month")))
    )
    sex_mismatch = (
        pl.col("id_sex").is_not_null() & pl.col("row_sex").is_in(["男", "女"]) & (pl.col("id_sex") != pl.col("row_sex"))
    )

    def tag(condition: pl.Expr, name: str) -> pl.Expr:
        return pl.when(condition.fill_null(False)).then(pl.lit([name])).otherwise(empty)

    flags = pl.concat_list(
        pl.col("row_flags").fill_null(empty),  # hidden_row, duplicate_row, extra_cells … (assets/ingest/sheets.py)
        pl.col("_value_flags").fill_null(empty),
        pl.col("_missing").fill_null(empty),
        tag(birth_mismatch, "birth_date_mismatch"),
        tag(sex_mismatch, "sex_mismatch"),
        tag(pl.col("id_status") == "converted_15", "converted_15"),
    )
    return (
        records.join(per_value, on="record_id", how="left")
        .join(missing_required, on="record_id", how="left")
        .with_columns(flags.list.unique().list.sort().alias("flags"))
        .drop("_value_flags", "_missing", "row_flags")
    )


def _quarantine_reasons(records: pl.DataFrame, values: pl.DataFrame) -> pl.DataFrame:
    """record_id → (reason_code, field, detail) for rows that cannot be used; the first reason wins."""
    committee = records.filter(pl.col("committee_problem").is_not_null()).select(
        "record_id",
        pl.lit("unknown_committee").alias("reason_code"),
        pl.lit("居委会").alias("field"),
        pl.format("field '居委会': {}", "committee_problem").alias("detail"),
    )
    has_identity_fields = values.filter(pl.col("element_code").is_in(["person_name", "citizen_id"])).select(
        "record_id"
    ).unique()
    no_identifier = (
        records.join(has_identity_fields, on="record_id", how="semi")
        .filter(pl.col("person_name").is_null() & pl.col("id_number").is_null())
        .select(
            "record_id",
            pl.lit("no_identifier").alias("reason_code"),
            pl.lit("姓名/公民身份号码").alias("field"),
            pl.lit("fields '姓名' and '公民身份号码' are both empty: the row identifies nobody").alias("detail"),
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
                "field '{}': required {} value '{}' is not valid ({})", "field_label", "field_type", "value_raw", "value_flag"
            ).alias("detail"),
        )
    )
    reasons = pl.concat([committee, no_identifier, wrong_type])
    return reasons.unique(subset="record_id", keep="first", maintain_order=True)
