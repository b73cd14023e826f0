"""Finding the header in a delivered sheet, mapping its columns to the form's fields, sorting rows.

Staff add title rows, stack two or three header rows with merged group cells (一级表头 above 二级表头),
rename a column to a synonym, drop or add a column, and leave 合计, blank, 填表人 and 填表说明 rows at
the bottom. This module decides, per physical row, whether it is a title, the header, a data row or a
non-data row, and which catalog field each column holds. Labels and patterns: schemas/ingest/layout.yaml.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from assets.forms.dictionary import Dictionary, load_dictionary
from assets.ingest.rules import LayoutRules, load_layout_rules
from assets.ingest.workbook import Merge

BRACKET_NOTE = re.compile(r"[(（\[【][^)）\]】]*[)）\]】]")
INTEGER = re.compile(r"^[(（]?\d{1,5}[)）.、．]?$")  # a pre-printed 序号: 7, 7., (7)
COLUMN_LETTERS = "甲乙丙丁戊己庚辛壬癸"


@functools.lru_cache(maxsize=65536)
def label_key(label: str) -> str:
    """A header as compared: NFKC, no whitespace, no required-marks or trailing colon."""
    text = unicodedata.normalize("NFKC", label or "")
    text = re.sub(r"\s+", "", text)
    return text.strip("*＊:：")


@functools.lru_cache(maxsize=65536)
def label_core(label: str) -> str:
    """A header without bracketed notes: 身份证号（18位） → 身份证号."""
    return BRACKET_NOTE.sub("", label_key(label)) or label_key(label)


def load_synonyms(dictionary: Dictionary | None = None) -> dict[str, str]:
    """Map every known label (core form) to its data-element code (schemas/data_elements.yaml)."""
    dictionary = dictionary or load_dictionary()
    index: dict[str, str] = {}
    for element in dictionary.elements:
        for label in element.labels:
            index.setdefault(label_core(label), element.code)
    return index


@dataclass(frozen=True)
class CatalogField:
    field_order: int
    field_label: str
    field_type: str
    required: bool
    element_code: str | None = None  # from the label matcher of assets/forms (mapped fields only)


@dataclass(frozen=True)
class ColumnMap:
    """One delivered column and the catalog field it holds (field_order None: an extra column)."""

    index: int
    header_label: str
    field_order: int | None
    field_label: str
    field_type: str
    required: bool
    element_code: str | None
    match: str  # exact | synonym | fuzzy | extra


@dataclass
class FileLayout:
    header_row: int  # 1-based physical row number of the (last) header row
    header_cells: list[str]  # one label per column; stacked headers joined: 户籍地址/省市
    columns: list[ColumnMap]
    committee_col: int | None
    township_col: int | None
    missing_fields: list[CatalogField] = field(default_factory=list)
    header_first_row: int | None = None  # first row of a stacked header (None: header_row)
    header_rows_cells: list[list[str]] = field(default_factory=list)  # the physical header rows, as delivered
    serial_cols: list[int] = field(default_factory=list)  # 序号 columns (a row with only these is a template)

    @functools.cached_property
    def header_keys(self) -> list[str]:
        return [label_key(c) for c in self.header_cells]

    @functools.cached_property
    def header_row_keys(self) -> list[list[str]]:
        """Each physical header row as keys, trailing blanks dropped (to spot a header pasted again)."""
        out = []
        for cells in self.header_rows_cells or [self.header_cells]:
            keys = [label_key(c) for c in cells]
            while keys and not keys[-1]:
                keys.pop()
            out.append(keys)
        return out

    @property
    def first_row(self) -> int:
        return self.header_first_row or self.header_row

    @property
    def renamed(self) -> list[ColumnMap]:
        return [c for c in self.columns if c.match in ("synonym", "fuzzy")]

    @property
    def extra(self) -> list[ColumnMap]:
        return [c for c in self.columns if c.match == "extra"]


def _pair_score(
    header: str, catalog: CatalogField, synonyms: dict[str, str], threshold: float
) -> tuple[float, str] | None:
    h_key, c_key = label_key(header), label_key(catalog.field_label)
    if not h_key:
        return None
    if h_key == c_key:
        return 100.0, "exact"
    h_core, c_core = label_core(header), label_core(catalog.field_label)
    if h_core == c_core:
        return 99.0, "exact"
    h_element, c_element = synonyms.get(h_core), synonyms.get(c_core)
    if h_element and h_element == c_element:
        return 95.0, "synonym"
    score = fuzz.ratio(h_core, c_core)
    if score >= threshold:
        return float(score), "fuzzy"
    return None


def _in_labels(cell: str, labels: frozenset[str]) -> bool:
    return label_key(cell) in labels or label_core(cell) in labels


Alternates = list[list[tuple[str, float]]]  # per column: (label to try, penalty)


def map_columns(
    header: list[str],
    catalog: list[CatalogField],
    synonyms: dict[str, str],
    alternates: Alternates | None = None,
    rules: LayoutRules | None = None,
) -> tuple[list[ColumnMap], int | None, int | None, list[CatalogField]]:
    """Assign header cells to catalog fields, best pairs first, each field at most once.

    `alternates` gives, per column of a stacked header, the labels to try (户籍地址省市, then 省市 alone with
    a penalty); without it each cell is its own only label.
    """
    rules = rules or load_layout_rules()
    tries: Alternates = alternates or [[(c, 0.0)] for c in header]
    committee_col = next(
        (i for i, t in enumerate(tries) if any(_in_labels(c, rules.committee_labels) for c, _ in t)), None
    )
    township_col = next(
        (i for i, t in enumerate(tries) if any(_in_labels(c, rules.township_labels) for c, _ in t)), None
    )
    reserved = {committee_col, township_col} - {None}
    threshold = rules.header.fuzzy_label_threshold
    candidates: list[tuple[float, int, int, str]] = []
    for i, options in enumerate(tries):
        if i in reserved:
            continue
        for j, catalog_field in enumerate(catalog):
            best: tuple[float, str] | None = None
            for label, penalty in options:
                scored = _pair_score(label, catalog_field, synonyms, threshold)
                if scored and (best is None or scored[0] - penalty > best[0]):
                    best = (scored[0] - penalty, scored[1])
            if best:
                candidates.append((best[0], i, j, best[1]))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    taken_cols: dict[int, tuple[int, str]] = {}
    taken_fields: set[int] = set()
    for _, i, j, kind in candidates:
        if i in taken_cols or j in taken_fields:
            continue
        taken_cols[i] = (j, kind)
        taken_fields.add(j)
    columns: list[ColumnMap] = []
    for i, cell in enumerate(header):
        if i in reserved:
            continue
        if i in taken_cols:
            j, kind = taken_cols[i]
            cf = catalog[j]
            columns.append(
                ColumnMap(
                    index=i,
                    header_label=cell.strip(),
                    field_order=cf.field_order,
                    field_label=cf.field_label,
                    field_type=cf.field_type,
                    required=cf.required,
                    element_code=cf.element_code or synonyms.get(label_core(cf.field_label)),
                    match=kind,
                )
            )
        elif label_key(cell):
            columns.append(
                ColumnMap(
                    index=i,
                    header_label=cell.strip(),
                    field_order=None,
                    field_label=label_key(cell),
                    field_type="text",
                    required=False,
                    element_code=synonyms.get(label_core(cell)),
                    match="extra",
                )
            )
    missing = [cf for j, cf in enumerate(catalog) if j not in taken_fields]
    return columns, committee_col, township_col, missing


def fill_merges(rows: list[tuple[int, list[str]]], merges: list[Merge]) -> list[tuple[int, list[str]]]:
    """Copy each merged area's top-left text into every cell of the area (rows given are copied, not changed)."""
    if not merges:
        return rows
    by_number = {n: i for i, (n, _) in enumerate(rows)}
    out = [(n, list(cells)) for n, cells in rows]
    for r1, c1, r2, c2 in merges:
        top = by_number.get(r1)
        if top is None or c1 >= len(out[top][1]):
            continue
        value = out[top][1][c1]
        for r in range(r1, r2 + 1):
            i = by_number.get(r)
            if i is None:
                continue
            cells = out[i][1]
            while len(cells) <= c2:
                cells.append("")
            for c in range(c1, c2 + 1):
                if not cells[c].strip():
                    cells[c] = value
    return out


def stack_header(window: list[list[str]], rules: LayoutRules) -> tuple[list[str], Alternates]:
    """Labels of a stacked header: the parts of each column from top to bottom, repeats dropped.

    A group cell written once above several sub-columns (merged, or left blank by an export that
    unmerged it) is carried right over the sub-columns it heads. Each column is tried as all parts run
    together (监护人姓名), then by shorter tails down to its lowest part alone, each with a penalty.
    """
    width = max(len(c) for c in window)
    grid = [c + [""] * (width - len(c)) for c in window]
    for k in range(len(grid) - 1):
        upper, lower = grid[k], grid[k + 1]
        carried = list(upper)
        for j in range(1, width):
            if (
                not carried[j].strip()
                and lower[j].strip()
                and carried[j - 1].strip()
                and lower[j - 1].strip()
            ):
                carried[j] = carried[j - 1]
        grid[k] = carried
    labels: list[str] = []
    alternates: Alternates = []
    penalty = rules.header.child_only_penalty
    for j in range(width):
        parts: list[str] = []
        for row in grid:
            part = row[j].strip()
            if part and (not parts or label_key(parts[-1]) != label_key(part)):
                parts.append(part)
        labels.append(rules.header.join.join(parts))
        # all parts run together, then shorter tails: 联系信息/监护人/姓名 → 监护人姓名 → 姓名
        alternates.append([("".join(parts[k:]), penalty * k) for k in range(len(parts))] or [("", 0.0)])
    return labels, alternates


LONG_NUMBER = re.compile(r"\d{6}")


def _could_be_header(cells: list[str]) -> bool:
    """A row below a header row that may continue it: something written, and no ID/phone-like number."""
    filled = [c for c in cells if c and c.strip()]
    return bool(filled) and not any(LONG_NUMBER.search(c) for c in filled)


def find_layout(
    rows: list[tuple[int, list[str]]],
    catalog: list[CatalogField],
    synonyms: dict[str, str],
    merges: list[Merge] | None = None,
    rules: LayoutRules | None = None,
) -> FileLayout | None:
    """Pick the header: the row (or stack of up to three rows) among the first ones naming the most fields.

    Rows are scored one by one and the search stops at a row naming half the fields, but never at a
    partial header: the stacks of rows around the best row are scored too, and a stack wins when it
    names more fields (fewer rows win ties).
    """
    rules = rules or load_layout_rules()
    depth = rules.header.max_header_rows
    area = fill_merges(rows[: rules.header.search_rows + depth], merges or [])
    best: tuple[int, int] | None = None  # (score, index into area)
    needed = max(2, min(3, len(catalog)))
    confident = max(needed, (len(catalog) + 1) // 2)  # a row naming half the fields is the header: stop there

    def score_of(mapped: tuple[list[ColumnMap], int | None, int | None, list[CatalogField]]) -> int:
        columns, committee_col, township_col, _ = mapped
        return (
            sum(1 for c in columns if c.match != "extra")
            + (committee_col is not None)
            + (township_col is not None)
        )

    for position, (_, cells) in enumerate(area[: rules.header.search_rows]):
        non_empty = [c for c in cells if c and c.strip()]
        if len(non_empty) < 2:
            continue
        score = score_of(map_columns(cells, catalog, synonyms, rules=rules))
        if best is None or score > best[0]:
            best = (score, position)
        if score >= confident:
            break
    if best is None:
        return None
    choice = (best[0], -1, best[1], best[1])  # (score, -rows, first index, last index)
    p = best[1]
    # Rows that cannot be part of a header: a title above (one cell), a data row below (an ID, a phone).
    lo = p
    while lo > max(0, p - depth + 1) and sum(1 for c in area[lo - 1][1] if c and c.strip()) >= 2:
        lo -= 1
    hi = p
    while hi < min(len(area) - 1, p + depth - 1) and _could_be_header(area[hi + 1][1]):
        hi += 1
    for first in range(lo, p + 1):
        for last in range(max(first + 1, p), min(first + depth, hi + 1)):
            window = [cells for _, cells in area[first : last + 1]]
            labels, alternates = stack_header(window, rules)
            score = score_of(map_columns(labels, catalog, synonyms, alternates, rules))
            candidate = (score, -(last - first + 1), first, last)
            if candidate[:2] > choice[:2]:
                choice = candidate
    score, _, first, last = choice
    if score < needed:
        return None
    window = [cells for _, cells in area[first : last + 1]]
    if first == last:
        labels, alternates = window[0], None
    else:
        labels, alternates = stack_header(window, rules)
    columns, committee_col, township_col, missing = map_columns(labels, catalog, synonyms, alternates, rules)
    serial = [
        i
        for i, label in enumerate(labels)
        if any(_in_labels(p, rules.serial_labels) for p in label.split(rules.header.join))
    ]
    return FileLayout(
        header_row=area[last][0],
        header_cells=labels,
        columns=columns,
        committee_col=committee_col,
        township_col=township_col,
        missing_fields=missing,
        header_first_row=area[first][0],
        header_rows_cells=[cells for _, cells in rows[first : last + 1]],
        serial_cols=serial,
    )


def _row_key(cell: str) -> str:
    """A cell as row patterns see it: NFKC, no whitespace, trailing colon kept (联系电话：)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", cell))


def _is_column_numbers(values: list[str]) -> bool:
    """A row numbering the columns under the header: 1 2 3 …, or 甲 乙 1 2 …"""
    if len(values) < 3:
        return False
    numbers = [v for v in values if v.isdigit()]
    letters = [v for v in values if v in COLUMN_LETTERS]
    if len(numbers) + len(letters) != len(values):
        return False
    return (
        [int(v) for v in numbers] == list(range(int(numbers[0]), int(numbers[0]) + len(numbers)))
        if numbers
        else True
    )


def classify_row(
    cells: list[str], layout: FileLayout, row_number: int, rules: LayoutRules | None = None
) -> str | None:
    """The reason a row is not data, or None for a data row.

    Reasons: title, blank, header, column_numbers, header_notes, total, footer (sign-off: 填表人, 单位（盖章）, 联系电话：),
    notes (填表说明 items), date_line (a bare signing date), page_marker (第2页，共2页), template_row (only a
    pre-printed 序号).
    """
    if row_number < layout.first_row:
        return "title" if any(c and not c.isspace() for c in cells) else "blank"
    if row_number <= layout.header_row:
        return "header"
    filled = [i for i, c in enumerate(cells) if c and not c.isspace()]
    if not filled:
        return "blank"
    rules = rules or load_layout_rules()
    leading = [label_key(cells[i]) for i in filled[:2]]
    leading = [k for k in leading if k] or [""]
    row_rules = rules.rows
    if any(row_rules.total.match(k) for k in leading):
        return "total"
    first = _row_key(cells[filled[0]])
    if row_rules.footer.match(first) or row_rules.footer.match(leading[0]):
        return "footer"
    if len(filled) <= 2 and all(row_rules.bare_date.match(_row_key(cells[i])) for i in filled):
        return "date_line"
    if len(filled) <= 2 and all(row_rules.page_marker.match(label_key(cells[i])) for i in filled):
        return "page_marker"
    if len(filled) == 1 and row_rules.note_item.match(first) and len(first) > 4:
        return "notes"
    if row_number <= layout.header_row + 2:
        keys = [label_key(cells[i]) for i in filled]
        if _is_column_numbers(keys):
            return "column_numbers"
        if all(BRACKET_NOTE.fullmatch(k) for k in keys):
            return "header_notes"  # （必填） （18位） （元） under the labels
    serial = layout.serial_cols or [0]
    if all(i in serial for i in filled) and all(INTEGER.match(label_key(cells[i])) for i in filled):
        return "template_row"
    keys = None
    for header_keys in layout.header_row_keys:
        if header_keys and leading[0] == next((k for k in header_keys if k), None):
            keys = keys or [label_key(c) for c in cells]
            trimmed = keys[: len(keys) - next((n for n, k in enumerate(reversed(keys)) if k), 0)]
            if trimmed == header_keys:
                return "header"  # a repeated header, e.g. two exports pasted one under the other
    return None
