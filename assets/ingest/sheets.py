"""From a parsed file to the rows stage.py stores: which sheets hold data, and what each of their rows is.

Every sheet is considered. A sheet with the form's header is a data sheet and all its physical rows end
as data rows or as non-data rows with a reason; instruction sheets (填表说明, 示例), empty sheets and
hidden lookup sheets are skipped and recorded with their row counts. On data rows, cells merged down a
group (街镇 / 居委会 / 家庭住址 written once) are filled down, and rows are flagged when the sender hid
them, pasted them twice, or wrote more cells than the header has (an unquoted delimiter).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from assets.ingest.layout import CatalogField, ColumnMap, FileLayout, classify_row, find_layout, label_key
from assets.ingest.reader import ParsedFile, SheetRows, SkippedSheet
from assets.ingest.rules import LayoutRules, load_layout_rules

log = logging.getLogger(__name__)


@dataclass
class SheetPlan:
    """One data sheet: its layout, data rows (cells filled), non-data rows with reasons, row flags."""

    name: str | None
    layout: FileLayout
    data_rows: list[tuple[int, list[str]]] = field(default_factory=list)
    skipped: list[tuple[int, str, list[str]]] = field(default_factory=list)  # (row, reason, cells)
    row_flags: dict[int, list[str]] = field(default_factory=dict)

    @property
    def rows_read(self) -> int:
        return len(self.data_rows) + len(self.skipped)


@dataclass
class FilePlan:
    sheets: list[SheetPlan]
    skipped_sheets: list[SkippedSheet]
    notes: list[str]

    @property
    def rows_read(self) -> int:
        return sum(s.rows_read for s in self.sheets)


def _single_cell_rows(sheet: SheetRows) -> bool:
    """A sheet of prose: no row has two non-empty cells (instructions written down column A)."""
    return all(sum(1 for c in cells if c and c.strip()) <= 1 for _, cells in sheet.rows)


def _mentions(sheet: SheetRows, pattern: re.Pattern[str], rows: int = 5) -> bool:
    """The first rows name the sheet's purpose (填表说明 in A1 of a sheet called Sheet2)."""
    return any(pattern.search(label_key(c)) for _, cells in sheet.rows[:rows] for c in cells if c)


def _names_people(layout: FileLayout) -> bool:
    return any(c.element_code in ("person_name", "citizen_id") for c in layout.columns)


def plan_file(
    parsed: ParsedFile,
    catalog: list[CatalogField],
    synonyms: dict[str, str],
    rules: LayoutRules | None = None,
) -> FilePlan:
    """Decide per sheet: read (with its layout) or skip (with a reason); then sort the rows of read sheets."""
    rules = rules or load_layout_rules()
    skipped = list(parsed.skipped_sheets)
    plans: list[SheetPlan] = []
    without_header: list[SheetRows] = []
    seen: set[tuple[str, ...]] = set()  # a row pasted into two sheets of one file is a duplicate too
    for sheet in parsed.sheets:
        name = sheet.name or ""
        if name and rules.sheets.instructions.search(name):
            skipped.append(SkippedSheet(name, "instructions", len(sheet.rows)))
            continue
        if name and rules.sheets.cover.search(name):
            skipped.append(SkippedSheet(name, "cover", len(sheet.rows)))
            continue
        layout = find_layout(sheet.rows, catalog, synonyms, sheet.merges, rules)
        if layout is None:
            without_header.append(sheet)
            continue
        if (sheet.hidden or rules.sheets.lookup.search(name)) and not _names_people(layout):
            without_header.append(sheet)  # a drop-down source headed 性别 / 民族 is no data sheet
            continue
        plans.append(plan_sheet(sheet, layout, rules, seen))
    for sheet in without_header:
        name = sheet.name or ""
        if sheet.hidden:
            reason = "hidden_lookup"
        elif rules.sheets.lookup.search(name):
            reason = "lookup"
        elif _single_cell_rows(sheet) or _mentions(sheet, rules.sheets.instructions):
            reason = "instructions"
        else:
            reason = "no_header"
        skipped.append(SkippedSheet(name, reason, len(sheet.rows)))
    notes = list(parsed.notes) + [s.note() for s in skipped]
    if plans and any(s.reason == "no_header" for s in skipped):
        log.warning("%s", "; ".join(s.note() for s in skipped if s.reason == "no_header"))
    return FilePlan(plans, skipped, notes)


def _first_key(cells: list[str]) -> str:
    return next((label_key(c) for c in cells if c and c.strip()), "")


def _label_width(layout: FileLayout) -> int:
    """Columns up to the last one the header names (an export pads the header row with empty cells)."""
    named = [i for i, k in enumerate(layout.header_keys) if k]
    return named[-1] + 1 if named else len(layout.header_cells)


def plan_sheet(
    sheet: SheetRows, layout: FileLayout, rules: LayoutRules, seen: set[tuple[str, ...]] | None = None
) -> SheetPlan:
    """Sort every row of one data sheet and flag the data rows (`seen`: rows of earlier sheets of the file)."""
    plan = SheetPlan(sheet.name, layout)
    vertical = [m for m in sheet.merges if m[2] > m[0] and m[2] > layout.header_row]
    covered: dict[tuple[int, int], tuple[int, int]] = {}  # (row, col) → (top row, col) of its merged area
    for r1, c1, r2, c2 in vertical:
        for r in range(max(r1, layout.header_row + 1), r2 + 1):
            for c in range(c1, c2 + 1):
                if (r, c) != (r1, c1):
                    covered[(r, c)] = (r1, c1)
    tops: dict[int, list[int]] = {}  # row → columns where a merged area starts
    for r1, c1, _, _ in vertical:
        tops.setdefault(r1, []).append(c1)
    top_values: dict[tuple[int, int], str] = {}
    group_cols = [c for c in (layout.township_col, layout.committee_col) if c is not None]
    serial = set(layout.serial_cols)
    previous: dict[int, str] = {}
    seen = seen if seen is not None else set()
    in_notes = False
    width = _label_width(layout)
    for row_number, cells in sheet.rows:
        for c in tops.get(row_number, ()):
            if c < len(cells):
                top_values[(row_number, c)] = cells[c]
        reason = classify_row(cells, layout, row_number, rules)
        if reason is None and in_notes and sum(1 for c in cells if c and c.strip()) == 1:
            reason = "notes"  # a prose line under 填表说明
        if reason is not None:
            in_notes = (
                in_notes
                or reason == "notes"
                or (reason == "footer" and bool(rules.rows.notes_heading.match(_first_key(cells))))
            )
            if reason == "header" and row_number > layout.header_row:
                _retitle(plan)  # a block pasted again brings its title rows with it
            plan.skipped.append((row_number, reason, cells))
            continue
        flags: list[str] = list(sheet.row_flags.get(row_number, ()))
        if covered or group_cols:
            cells = list(cells)
        if covered:
            for c in range(len(cells)):
                if (row_number, c) in covered and not cells[c].strip():
                    cells[c] = top_values.get(covered[(row_number, c)], "")
                    if cells[c]:
                        flags.append("merged_cell_filled")
        for c in group_cols:
            if c < len(cells) and not cells[c].strip() and previous.get(c):
                cells[c] = previous[c]
                flags.append("group_filled_down")
            if c < len(cells) and cells[c].strip():
                previous[c] = cells[c]
        if row_number in sheet.hidden_rows:
            flags.append("hidden_row")
        if sheet.hidden:
            flags.append("hidden_sheet")
        # A block pasted twice: the same cells again (序号 aside: a re-pasted block is often renumbered).
        key = tuple("".join(c.split()) for i, c in enumerate(cells) if i not in serial)
        key = key[: len(key) - next((n for n, k in enumerate(reversed(key)) if k), 0)]
        if sum(1 for k in key if k) >= 2:
            if key in seen:
                flags.append("duplicate_row")
            else:
                seen.add(key)
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            flags.append("extra_cells")
        if flags:
            plan.row_flags[row_number] = sorted(set(flags))
        plan.data_rows.append((row_number, cells))
    _keep_extra_cells(plan, sheet.delimiter)
    return plan


def _retitle(plan: SheetPlan, most: int = 3) -> None:
    """Data rows right above a repeated header that hold one cell only are that block's title rows."""
    moved: list[tuple[int, str, list[str]]] = []
    while plan.data_rows and len(moved) < most:
        number, cells = plan.data_rows[-1]
        if sum(1 for c in cells if c and c.strip()) != 1 or (moved and moved[-1][0] != number + 1):
            break
        if plan.skipped and plan.skipped[-1][0] > number:
            break
        plan.data_rows.pop()
        plan.row_flags.pop(number, None)
        moved.append((number, "title", cells))
    plan.skipped.extend(reversed(moved))
    plan.skipped.sort(key=lambda s: s[0])


def _keep_extra_cells(plan: SheetPlan, delimiter: str | None) -> None:
    """Cells beyond the header must not vanish.

    In a text file they are an unquoted delimiter inside the last field (地址 "黄浦区,南京东路"): when the
    last column is free text the pieces are joined back into it with the delimiter. Otherwise (or in a
    workbook, where they are notes written right of the table) each becomes an extra column 列N.
    """
    layout = plan.layout
    width = _label_width(layout)
    overflow = [(n, cells) for n, cells in plan.data_rows if any(c.strip() for c in cells[width:])]
    last = next((c for c in layout.columns if c.index == width - 1), None)
    if overflow and delimiter and last is not None and last.field_type == "text":
        for n, cells in overflow:
            tail = cells[width - 1 :]
            while tail and not tail[-1].strip():
                tail.pop()
            cells[width - 1 :] = [delimiter.join(tail)]
            plan.row_flags[n] = sorted(set(plan.row_flags.get(n, [])) | {"extra_cells_joined"})
    known = {c.index for c in layout.columns} | {layout.committee_col, layout.township_col}
    used: set[int] = set()
    for _, cells in plan.data_rows:
        used.update(i for i, c in enumerate(cells) if i not in known and c.strip())
    for i in sorted(used):
        label = layout.header_cells[i].strip() if i < len(layout.header_cells) else ""
        layout.columns.append(
            ColumnMap(i, label or f"列{i + 1}", None, f"列{i + 1}", "text", False, None, "overflow")
        )
