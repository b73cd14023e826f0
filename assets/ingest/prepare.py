"""A parsed file, sheet by sheet, sorted into data and non-data rows with each data row's committee.

Split from stage.py: this is the per-file Python walk (sheets.plan_file does the rows; here the committee of
each row: the file name's, the committee column's, or a sheet named after its committee). stage.py stages it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from assets.ingest.committees import Divisions
from assets.ingest.landing import FileRejected, LandingFile
from assets.ingest.layout import CatalogField, FileLayout
from assets.ingest.reader import ParsedFile
from assets.ingest.sheets import SheetPlan, plan_file


@dataclass
class FileOutcome:
    """What happened to one file, before value-level work."""

    file: LandingFile
    file_id: str
    file_hash: str
    status: str  # ingested | rejected | superseded | duplicate
    reason_code: str | None = None
    message: str | None = None
    encoding: str | None = None
    sheet: str | None = None
    rows_read: int = 0
    warnings: list[str] = field(default_factory=list)
    committees: list[str] = field(default_factory=list)
    replaced_by: str | None = None
    disposition: str | None = None  # fingerprint of what its rows became (delivery.disposition)


@dataclass
class PreparedSheet:
    """One data sheet of a prepared file: its plan and, per data row, the committee it belongs to."""

    plan: SheetPlan
    committees: list[str | None]  # per data row
    problems: list[str | None]  # per data row: why its committee could not be resolved
    committee_flags: list[str | None]  # per data row: committee_mismatch when the column contradicts the name


@dataclass
class Prepared:
    """A readable file split, sheet by sheet, into data rows (with their committee) and non-data rows."""

    file: LandingFile
    file_id: str
    file_hash: str
    parsed: ParsedFile
    sheets: list[PreparedSheet]
    notes: list[str]  # skipped sheets, container notes (assets/ingest/sheets.py)

    @property
    def committee_set(self) -> list[str]:
        """The committees this file delivers rows for (what identifies a district-wide file and what a correction
        replaces). A file with no data rows (a header-only correction) delivers nothing and so replaces nothing."""
        if not self.data_row_count:
            return []
        if self.file.committee_code is not None:
            return [self.file.committee_code]
        return sorted({c for s in self.sheets for c in s.committees if c})

    @property
    def rows_read(self) -> int:
        return sum(s.plan.rows_read for s in self.sheets)

    @property
    def data_row_count(self) -> int:
        return sum(len(s.plan.data_rows) for s in self.sheets)

    def outcome(self) -> FileOutcome:
        warnings = [w for s in self.sheets for w in _layout_warnings(self.file, s.plan.layout)] + self.notes
        return FileOutcome(self.file, self.file_id, self.file_hash, "ingested", encoding=self.parsed.encoding,
                           sheet=self.sheets[0].plan.name, rows_read=self.rows_read, warnings=warnings,
                           committees=self.committee_set)  # fmt: skip


def prepare(
    file: LandingFile,
    file_id: str,
    file_hash: str,
    parsed: ParsedFile,
    catalog_fields: list[CatalogField],
    synonyms: dict[str, str],
    divisions: Divisions,
) -> Prepared:
    """Plan every sheet (assets/ingest/sheets.py), then resolve each data row's committee.

    Raises FileRejected when no sheet has a usable layout, or a sheet's rows cannot be given a committee: the
    file name names none, the sheet has no committee column and its name is no committee of the district (a
    district workbook with one sheet per committee names each sheet after it). A committee column in a file
    named for one committee is read too: a row naming another committee is flagged `committee_mismatch`.
    """
    plan = plan_file(
        parsed, catalog_fields, synonyms
    )  # every sheet: read with a layout, or skipped with a reason
    if not plan.sheets:
        raise FileRejected(
            "no_header",
            f"{file.source_file}: no header row naming the fields of form {file.form_code} in the first rows",
        )
    sheets = [_sheet_committees(file, s, divisions) for s in plan.sheets]
    return Prepared(file, file_id, file_hash, parsed, sheets, plan.notes)


def _sheet_committees(file: LandingFile, sheet: SheetPlan, divisions: Divisions) -> PreparedSheet:
    layout = sheet.layout
    n = len(sheet.data_rows)
    if file.committee_code is None and layout.committee_col is None:
        code = None
        if sheet.name and sheet.name.strip():
            code, _ = divisions.resolve(file.district_code, sheet.name, None)
        if code is None:
            where = f"sheet '{sheet.name}'" if sheet.name else "the file"
            raise FileRejected(
                "no_committee",
                f"{file.source_file}: the file name names no committee (12-digit code or 居委会 name), "
                f"{where} has no committee column (居委会 / 社区 …)"
                + (" and its name is no committee of the district" if sheet.name else ""),
            )
        return PreparedSheet(sheet, [code] * n, [None] * n, [None] * n)
    committees: list[str | None] = []
    problems: list[str | None] = []
    flags: list[str | None] = []
    for _, cells in sheet.data_rows:
        township = _cell(cells, layout.township_col) or None
        cell = _cell(cells, layout.committee_col)
        if file.committee_code is not None:
            committees.append(file.committee_code)
            problems.append(None)
            code = (
                divisions.resolve(file.district_code, cell, township)[0]
                if cell.strip()
                else file.committee_code
            )
            flags.append("committee_mismatch" if code != file.committee_code else None)
            continue
        code, problem = divisions.resolve(file.district_code, cell, township)
        committees.append(code)
        problems.append(problem)
        flags.append(None)
    return PreparedSheet(sheet, committees, problems, flags)


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index] if index is not None and index < len(cells) else ""


def _layout_warnings(file: LandingFile, layout: FileLayout) -> list[str]:
    warnings = [f"missing column {f.field_label}" for f in layout.missing_fields]
    warnings += [f"column '{c.header_label}' read as {c.field_label} ({c.match})" for c in layout.renamed]
    warnings += [f"extra column '{c.header_label}'" for c in layout.extra]
    return warnings
