"""Write delivery files the way office software does: xlsx (via xlsxwriter) and delimited text.

The writers return physical row numbers so the cases can say where a planted row really is.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xlsxwriter

Cell = Any  # str | int | float | dt.date | None


@dataclass
class Sheet:
    """One worksheet: cells row by row (None = empty), merges (0-based r1, c1, r2, c2), hiding."""

    name: str
    rows: list[list[Cell]]
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    hidden: bool = False
    very_hidden: bool = False
    hidden_rows: set[int] = field(default_factory=set)
    text_cols: set[int] = field(default_factory=set)  # columns formatted as text (@), like a template


def write_xlsx(path: Path, sheets: Sequence[Sheet], active: int = 0) -> None:
    """Write a workbook; dates get a yyyy-mm-dd number format like a typed Excel date."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    text_fmt = wb.add_format({"num_format": "@"})
    merge_fmt = wb.add_format({"align": "center", "valign": "vcenter", "text_wrap": True})
    for sh in sheets:
        ws = wb.add_worksheet(sh.name)
        for c in sh.text_cols:
            ws.set_column(c, c, 20, text_fmt)
        merged_cells = {(m[0], m[1]) for m in sh.merges}
        for r, row in enumerate(sh.rows):
            if r in sh.hidden_rows:
                ws.set_row(r, None, None, {"hidden": True})
            for c, v in enumerate(row):
                if v is None or (r, c) in merged_cells:
                    continue
                if isinstance(v, dt.datetime | dt.date):
                    ws.write_datetime(
                        r, c, dt.datetime.combine(v, dt.time()) if type(v) is dt.date else v, date_fmt
                    )
                elif isinstance(v, bool):
                    ws.write_string(r, c, str(v))
                elif isinstance(v, int | float):
                    ws.write_number(r, c, v)
                else:
                    ws.write_string(r, c, str(v), text_fmt if c in sh.text_cols else None)
        for r1, c1, r2, c2 in sh.merges:
            v = sh.rows[r1][c1] if c1 < len(sh.rows[r1]) else None
            ws.merge_range(r1, c1, r2, c2, "" if v is None else v, merge_fmt)
        if sh.very_hidden:
            ws.very_hidden()
        elif sh.hidden:
            ws.hide()
    wb.worksheets()[active].activate()
    wb.close()


def delimited(
    rows: Sequence[Sequence[Cell] | str], delimiter: str = ",", newline: str = "\r\n"
) -> tuple[str, list[int]]:
    """Text of a delimited file (Excel quoting) and the 1-based physical line where each row starts.

    A row given as a str is written verbatim (for hand-made lines with unquoted delimiters)."""
    out, starts, line = io.StringIO(), [], 1
    for row in rows:
        starts.append(line)
        if isinstance(row, str):
            text = row + newline
        else:
            buf = io.StringIO()
            csv.writer(buf, delimiter=delimiter, lineterminator=newline, quoting=csv.QUOTE_MINIMAL).writerow(
                ["" if v is None else str(v) for v in row]
            )
            text = buf.getvalue()
        out.write(text)
        line += text.count("\n")
    return out.getvalue(), starts


def write_text(path: Path, text: str, encoding: str = "utf-8", bom: bytes = b"") -> None:
    """Encode and write; `bom` is prepended as raw bytes (it may lie about the encoding)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bom + text.encode(encoding))
