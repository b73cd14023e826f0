"""OpenDocument spreadsheets (.ods) read from content.xml: values, hidden rows and sheets, merged areas.

calamine reads most .ods files, but not those from minimal writers (no META-INF/manifest.xml) or with
pretty-printed XML (whitespace between elements), and it reports neither hidden rows nor merged cells
for ODF. One streaming pass over content.xml gives all of it.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

ODF_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
ODF_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
ODF_STYLE = "urn:oasis:names:tc:opendocument:xmlns:style:1.0"
OFF, T, X, S = (f"{{{ns}}}" for ns in (ODF_OFFICE, ODF_TABLE, ODF_TEXT, ODF_STYLE))
MAX_REPEAT = 10_000  # a repeated block of blank rows/cells this long is padding, not content


@dataclass
class OdfTable:
    name: str
    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    hidden: bool = False
    hidden_rows: set[int] = field(default_factory=set)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)


def _paragraphs(cell: ET.Element) -> str:
    """Cell text as shown: paragraphs on separate lines, <text:s c="n"/> as n spaces, tabs and breaks kept."""
    lines = []
    for p in cell.iter(f"{X}p"):
        parts: list[str] = [p.text or ""]
        for child in p.iter():
            if child is p:
                continue
            if child.tag == f"{X}s":
                parts.append(" " * int(child.get(f"{X}c", "1")))
            elif child.tag == f"{X}tab":
                parts.append("\t")
            elif child.tag == f"{X}line-break":
                parts.append("\n")
            else:
                parts.append(child.text or "")
            parts.append(child.tail or "")
        lines.append("".join(parts))
    return "\n".join(lines)


def _value(cell: ET.Element) -> str:
    kind = cell.get(f"{OFF}value-type")
    if kind in ("float", "percentage", "currency"):
        raw = cell.get(f"{OFF}value", "")
        try:
            number = float(raw)
        except ValueError:
            return _paragraphs(cell)
        return str(int(number)) if number.is_integer() and abs(number) < 1e15 else raw
    if kind == "date":
        value = cell.get(f"{OFF}date-value", "")
        return value[:10] if value.endswith("T00:00:00") or len(value) == 10 else value.replace("T", " ")
    if kind == "boolean":
        return "是" if cell.get(f"{OFF}boolean-value") == "true" else "否"
    return _paragraphs(cell)


def scan(data: bytes) -> list[OdfTable]:
    """Every table of the document, its rows padded to one width, in document order."""
    hidden_styles: set[str] = set()
    tables: list[OdfTable] = []
    with zipfile.ZipFile(io.BytesIO(data)).open("content.xml") as stream:
        table: OdfTable | None = None
        row = 0
        pending_blank = 0
        for event, elem in ET.iterparse(stream, events=("start", "end")):
            tag = elem.tag
            if event == "start":
                if tag == f"{T}table":
                    table = OdfTable(elem.get(f"{T}name", f"Sheet{len(tables) + 1}"))
                    table.hidden = elem.get(f"{T}style-name", "") in hidden_styles
                    row, pending_blank = 0, 0
                continue
            if tag == f"{S}style" and elem.get(f"{S}family") == "table":
                props = elem.find(f"{S}table-properties")
                if props is not None and props.get(f"{T}display") == "false":
                    hidden_styles.add(elem.get(f"{S}name", ""))
            elif tag == f"{T}table-row" and table is not None:
                repeat = int(elem.get(f"{T}number-rows-repeated", "1"))
                cells: list[str] = []
                col = 0
                for cell in elem:
                    span = int(cell.get(f"{T}number-columns-repeated", "1"))
                    rows_spanned = int(cell.get(f"{T}number-rows-spanned", "1"))
                    cols_spanned = int(cell.get(f"{T}number-columns-spanned", "1"))
                    if rows_spanned > 1 or cols_spanned > 1:
                        table.merges.append((row + 1, col, row + rows_spanned, col + cols_spanned - 1))
                    value = _value(cell) if cell.tag == f"{T}table-cell" else ""
                    cells.extend([value] * (span if value or span <= MAX_REPEAT else 1))
                    col += span
                while cells and not cells[-1]:
                    cells.pop()
                if elem.get(f"{T}visibility") in ("collapse", "filter"):
                    table.hidden_rows.update(range(row + 1, row + 1 + min(repeat, MAX_REPEAT)))
                start = row + 1  # physical number of this element's first row
                if cells:
                    table.rows.extend((start - pending_blank + k, []) for k in range(pending_blank))
                    table.rows.extend((start + k, list(cells)) for k in range(min(repeat, MAX_REPEAT)))
                    pending_blank = 0
                else:
                    pending_blank += repeat
                row += repeat
                elem.clear()
            elif tag == f"{T}table" and table is not None:
                width = max((len(c) for _, c in table.rows), default=0)
                table.rows = [(n, c + [""] * (width - len(c))) for n, c in table.rows]
                tables.append(table)
                table = None
                elem.clear()
    return tables
