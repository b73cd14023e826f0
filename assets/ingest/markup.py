"""Workbooks that are really markup: an HTML table or Excel 2003 XML saved under an .xls name.

Web systems of departments export "Excel" files that are an HTML page with a <table> (Excel opens them
with a warning), or SpreadsheetML 2003 XML. Both are read into the same `Sheet` shape as real workbooks;
colspan/rowspan and MergeAcross/MergeDown become merged areas, hidden rows are kept.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from xml.etree import ElementTree as ET

from assets.ingest.workbook import Merge, Sheet

HTML_START = re.compile(r"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<\s*(!doctype\s+html|html|table|head|body|meta)\b",
                        re.IGNORECASE | re.DOTALL)  # fmt: skip
SPREADSHEET_ML = "urn:schemas-microsoft-com:office:spreadsheet"


def looks_like_html(text: str) -> bool:
    return bool(HTML_START.match(text[:4000])) and "<table" in text[:200000].lower()


def looks_like_spreadsheet_ml(text: str) -> bool:
    return text.lstrip().startswith("<?xml") and SPREADSHEET_ML in text[:4000]


class _TableParser(HTMLParser):
    """Collects every <table> as rows of cell texts with their colspan/rowspan."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[tuple[list[tuple[str, int, int]], bool]]] = []
        self._stack: list[list[tuple[list[tuple[str, int, int]], bool]]] = []
        self._row: list[tuple[str, int, int]] | None = None
        self._row_hidden = False
        self._cell: list[str] | None = None
        self._span = (1, 1)

    @staticmethod
    def _int(value: str | None) -> int:
        try:
            return max(1, min(int(value or "1"), 1000))
        except ValueError:
            return 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._stack.append([])
        elif tag == "tr" and self._stack:
            self._close_row()
            self._row = []
            style = (a.get("style") or "").replace(" ", "").lower()
            self._row_hidden = "display:none" in style or "visibility:hidden" in style
        elif tag in ("td", "th") and self._stack:
            if self._row is None:
                self._row, self._row_hidden = [], False
            self._close_cell()
            self._cell = []
            self._span = (self._int(a.get("rowspan")), self._int(a.get("colspan")))
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._close_cell()
        elif tag == "tr":
            self._close_row()
        elif tag == "table" and self._stack:
            self._close_row()
            self.tables.append(self._stack.pop())

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def _close_cell(self) -> None:
        if self._cell is not None and self._row is not None:
            text = "".join(self._cell).replace("\xa0", " ")
            text = "\n".join(" ".join(part.split()) for part in text.split("\n")).strip()
            self._row.append((text, *self._span))
        self._cell = None

    def _close_row(self) -> None:
        self._close_cell()
        if self._row is not None and self._stack:
            self._stack[-1].append((self._row, self._row_hidden))
        self._row = None


def _place(grid_rows: list[tuple[list[tuple[str, int, int]], bool]], name: str) -> Sheet:
    """Lay cells with spans onto a grid: a spanned area keeps its text in the top-left cell."""
    occupied: set[tuple[int, int]] = set()
    rows: list[tuple[int, list[str]]] = []
    merges: list[Merge] = []
    hidden: set[int] = set()
    for r, (cells, is_hidden) in enumerate(grid_rows, start=1):
        out: list[str] = []
        col = 0
        for text, rowspan, colspan in cells:
            while (r, col) in occupied:
                col += 1
            while len(out) < col:
                out.append("")
            out.append(text)
            if rowspan > 1 or colspan > 1:
                merges.append((r, col, r + rowspan - 1, col + colspan - 1))
                for rr in range(r, r + rowspan):
                    for cc in range(col, col + colspan):
                        occupied.add((rr, cc))
            col += colspan
        if is_hidden:
            hidden.add(r)
        rows.append((r, out))
    width = max((len(c) for _, c in rows), default=0)
    rows = [(n, c + [""] * (width - len(c))) for n, c in rows]
    return Sheet(name=name, rows=rows, hidden_rows=hidden, merges=merges)


def read_html(text: str) -> list[Sheet]:
    """Every non-empty <table> of the page, as sheets named 'table1', 'table2', …"""
    parser = _TableParser()
    parser.feed(text)
    parser.close()
    while parser._stack:  # an unclosed table at the end of a cut-off page
        parser._close_row()
        parser.tables.append(parser._stack.pop())
    return [_place(t, f"table{i}") for i, t in enumerate(parser.tables, start=1) if t]


def read_spreadsheet_ml(text: str) -> list[Sheet]:
    """Excel 2003 XML: Worksheet/Table/Row/Cell/Data with ss:Index gaps and MergeAcross/MergeDown."""
    ns = f"{{{SPREADSHEET_ML}}}"
    root = ET.fromstring(_strip_decl(text))
    sheets: list[Sheet] = []
    for ws in root.iter(f"{ns}Worksheet"):
        name = ws.get(f"{ns}Name") or f"Sheet{len(sheets) + 1}"
        table = ws.find(f"{ns}Table")
        rows: list[tuple[int, list[str]]] = []
        merges: list[Merge] = []
        hidden: set[int] = set()
        r = 0
        for row in table.iter(f"{ns}Row") if table is not None else []:
            r = int(row.get(f"{ns}Index", r + 1))
            if row.get(f"{ns}Hidden") == "1":
                hidden.add(r)
            cells: list[str] = []
            col = 0
            for cell in row.iter(f"{ns}Cell"):
                col = int(cell.get(f"{ns}Index", col + 1))
                data = cell.find(f"{ns}Data")
                text_value = "".join(data.itertext()) if data is not None else ""
                if (
                    data is not None
                    and data.get(f"{ns}Type") == "DateTime"
                    and text_value.endswith("T00:00:00.000")
                ):
                    text_value = text_value[:10]
                while len(cells) < col - 1:
                    cells.append("")
                cells.append(text_value.strip())
                across = int(cell.get(f"{ns}MergeAcross", "0"))
                down = int(cell.get(f"{ns}MergeDown", "0"))
                if across or down:
                    merges.append((r, col - 1, r + down, col - 1 + across))
                col += across
            while len(rows) < r - 1:
                rows.append((len(rows) + 1, []))
            rows.append((r, cells))
        width = max((len(c) for _, c in rows), default=0)
        sheets.append(
            Sheet(
                name=name,
                rows=[(n, c + [""] * (width - len(c))) for n, c in rows],
                hidden_rows=hidden,
                merges=merges,
            )
        )
    return sheets


def _strip_decl(text: str) -> bytes:
    """ElementTree refuses a str with an encoding declaration: drop it, the text is already decoded."""
    return re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1).encode("utf-8")
