"""Finding the header in a delivered sheet, mapping its columns to the form's fields, sorting rows.

Staff add title rows, rename a column to a synonym, drop or add a column, and leave 合计, blank
and 填表人 rows at the bottom. This module decides, per physical row, whether it is a title,
the header, a data row or a non-data row, and which catalog field each column holds.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from assets.forms.dictionary import Dictionary, load_dictionary

HEADER_SEARCH_ROWS = 20
FUZZY_LABEL_THRESHOLD = 80.0
COMMITTEE_LABELS = {
    "居委会", "居(村)委会", "村居委会", "村居委", "居村委", "居村委会", "社区", "所属居委", "所属居委会",
    "居委名称", "居委会名称", "社区名称", "居委代码", "居委会代码", "社区代码", "区划代码", "统计用区划代码",
    "居(村)委会名称", "村(居)委会",
}  # fmt: skip
TOWNSHIP_LABELS = {"街镇", "街道", "所属街镇", "街道(镇)", "街镇名称", "乡镇(街道)", "镇(街道)"}
TOTAL_ROW = re.compile(r"^(合计|总计|小计|共计|累计)")
FOOTER_ROW = re.compile(r"^(填表人|制表人|审核人|填报人|负责人|联系人|填报日期|制表日期|填表日期|报送日期|备注|说明|注[:：])")
BRACKET_NOTE = re.compile(r"[(（\[【][^)）\]】]*[)）\]】]")


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
    header_row: int  # 1-based physical row number of the header
    header_cells: list[str]
    columns: list[ColumnMap]
    committee_col: int | None
    township_col: int | None
    missing_fields: list[CatalogField] = field(default_factory=list)

    @functools.cached_property
    def header_keys(self) -> list[str]:
        return [label_key(c) for c in self.header_cells]

    @property
    def renamed(self) -> list[ColumnMap]:
        return [c for c in self.columns if c.match in ("synonym", "fuzzy")]

    @property
    def extra(self) -> list[ColumnMap]:
        return [c for c in self.columns if c.match == "extra"]


def _pair_score(header: str, catalog: CatalogField, synonyms: dict[str, str]) -> tuple[float, str] | None:
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
    if score >= FUZZY_LABEL_THRESHOLD:
        return float(score), "fuzzy"
    return None


def _is_committee_label(cell: str) -> bool:
    return label_key(cell) in COMMITTEE_LABELS or label_core(cell) in COMMITTEE_LABELS


def _is_township_label(cell: str) -> bool:
    return label_key(cell) in TOWNSHIP_LABELS or label_core(cell) in TOWNSHIP_LABELS


def map_columns(
    header: list[str], catalog: list[CatalogField], synonyms: dict[str, str]
) -> tuple[list[ColumnMap], int | None, int | None, list[CatalogField]]:
    """Assign header cells to catalog fields, best pairs first, each field at most once."""
    committee_col = next((i for i, c in enumerate(header) if _is_committee_label(c)), None)
    township_col = next((i for i, c in enumerate(header) if _is_township_label(c)), None)
    reserved = {committee_col, township_col} - {None}
    candidates: list[tuple[float, int, int, str]] = []
    for i, cell in enumerate(header):
        if i in reserved:
            continue
        for j, catalog_field in enumerate(catalog):
            scored = _pair_score(cell, catalog_field, synonyms)
            if scored:
                candidates.append((scored[0], i, j, scored[1]))
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


def find_layout(
    rows: list[tuple[int, list[str]]], catalog: list[CatalogField], synonyms: dict[str, str]
) -> FileLayout | None:
    """Pick the header row: the row among the first ones that names the most catalog fields."""
    best: tuple[int, int] | None = None  # (score, index into rows)
    needed = max(2, min(3, len(catalog)))
    confident = max(needed, (len(catalog) + 1) // 2)  # a row naming half the fields is the header: stop there
    for position, (_, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        non_empty = [c for c in cells if c and c.strip()]
        if len(non_empty) < 2:
            continue
        columns, committee_col, township_col, _ = map_columns(cells, catalog, synonyms)
        score = sum(1 for c in columns if c.match != "extra") + (committee_col is not None) + (township_col is not None)
        if best is None or score > best[0]:
            best = (score, position)
        if score >= confident:
            break
    if best is None or best[0] < needed:
        return None
    row_number, cells = rows[best[1]]
    columns, committee_col, township_col, missing = map_columns(cells, catalog, synonyms)
    return FileLayout(
        header_row=row_number,
        header_cells=cells,
        columns=columns,
        committee_col=committee_col,
        township_col=township_col,
        missing_fields=missing,
    )


def classify_row(cells: list[str], layout: FileLayout, row_number: int) -> str | None:
    """The reason a row is not data (title, header, blank, total, footer), or None for a data row.

    Only the first two non-empty cells are normalized: this runs on every row of every file.
    """
    if row_number < layout.header_row:
        return "title" if any(c and not c.isspace() for c in cells) else "blank"
    if row_number == layout.header_row:
        return "header"
    leading: list[str] = []
    for cell in cells:
        if cell and not cell.isspace():
            key = label_key(cell)
            if key:
                leading.append(key)
                if len(leading) == 2:
                    break
    if not leading:
        return "blank"
    if any(TOTAL_ROW.match(c) for c in leading):
        return "total"
    if FOOTER_ROW.match(leading[0]):
        return "footer"
    header_keys = layout.header_keys
    if leading[0] == next((k for k in header_keys if k), None) and [label_key(c) for c in cells] == header_keys:
        return "header"  # a repeated header, e.g. two exports pasted one under the other
    return None
