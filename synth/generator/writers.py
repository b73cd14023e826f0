"""Streaming writers for delivered files: CSV in four encodings and XLSX laid out like clerks' exports.

Both sinks write rows as they come (CSV in encoded chunks, XLSX with xlsxwriter's constant_memory mode),
so a district-wide file can grow committee by committee without being held in memory.
"""

from __future__ import annotations

import codecs
import csv
import io
from datetime import date, datetime
from pathlib import Path

import xlsxwriter

from synth.generator.render import Style

XLSX_MAX_ROWS = 1_048_576
FIXED_CREATED = datetime(2026, 11, 26, 9, 0, 0)
_WB_OPTIONS = {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}


class CsvSink:
    """A CSV file: header on row 1, one data row per line, no embedded newlines."""

    def __init__(self, path: Path, style: Style, header: list[str]) -> None:
        self.path = path
        self.encoding = style.encoding
        self._fh = path.open("wb")
        if self.encoding == "utf-8-sig":
            self._fh.write(codecs.BOM_UTF8)
        self._buf = io.StringIO()
        self._w = csv.writer(self._buf, lineterminator=style.newline)
        self._pending = 0
        self.rows = 0
        self.write_header(header)

    def write_header(self, header: list[str]) -> None:
        self._w.writerow(header)
        self.rows = 1

    def write(self, cells: list[object]) -> int:
        """Write one data row; returns its 1-based physical row number."""
        self._w.writerow(["" if c is None else str(c) for c in cells])
        self.rows += 1
        self._pending += 1
        if self._pending >= 2000:
            self._flush()
        return self.rows

    def write_many(self, rows: list[list[object]]) -> None:
        """`write` for each row, in C (csv writes None as "" and other values as str(), as `write` does)."""
        for k in range(0, len(rows), 2000):
            chunk = rows[k : k + 2000]
            self._w.writerows(chunk)
            self.rows += len(chunk)
            self._pending += len(chunk)
            if self._pending >= 2000:
                self._flush()

    def _flush(self) -> None:
        text = self._buf.getvalue()
        self._buf.seek(0)
        self._buf.truncate()
        self._pending = 0
        enc = "utf-8" if self.encoding == "utf-8-sig" else self.encoding
        try:
            data = text.encode(enc)
        except UnicodeEncodeError:
            # GBK cannot hold the character: switch to its superset GB18030 (earlier GBK bytes stay valid).
            self.encoding = "gb18030"
            data = text.encode("gb18030")
        self._fh.write(data)

    def close(self, **_: object) -> None:
        self._flush()
        self._fh.close()


class XlsxSink:
    """An XLSX workbook: optional title row (and gap), header, data, then 合计 / blank / 填表人 rows.

    `streaming` (district-wide files, which grow committee by committee) uses xlsxwriter's constant_memory
    mode: rows go to a temp file as written. Small committee files are built in memory, which avoids
    xlsxwriter's per-sheet temp files (creating and deleting them dominated the run time).
    """

    def __init__(
        self, path: Path, style: Style, header: list[str], title: str, n_cols: int, streaming: bool = False
    ) -> None:
        self.path = path
        self.style = style
        self.encoding = "xlsx"
        mode = {"constant_memory": True} if streaming else {"in_memory": True}
        self.wb = xlsxwriter.Workbook(str(path), {**_WB_OPTIONS, **mode})
        self.wb.set_properties({"created": FIXED_CREATED, "author": "", "title": ""})
        self.ws = self.wb.add_worksheet(style.sheet_name)
        self.ws2 = self.wb.add_worksheet("填表说明") if style.second_sheet else None
        self.sheet = style.sheet_name
        self._bold = self.wb.add_format({"bold": True, "border": 1, "align": "center"})
        self._title = self.wb.add_format({"bold": True, "font_size": 14, "align": "center"})
        date_fmt = {"cell": "yyyy-mm-dd"}.get(style.date_style, "yyyy/m/d")
        self._date = self.wb.add_format({"num_format": date_fmt})
        self._month = self.wb.add_format({"num_format": "yyyy-mm"})
        self.ws.set_column(0, max(0, n_cols - 1), 14)
        self.n_cols = n_cols
        self.row = 0
        if style.title:
            if n_cols > 1:
                self.ws.merge_range(0, 0, 0, n_cols - 1, title, self._title)
            else:
                self.ws.write_string(0, 0, title, self._title)
            self.row = 2 if style.title_gap else 1
        for c, h in enumerate(header):
            self.ws.write_string(self.row, c, h, self._bold)
        self.row += 1
        self.data_rows = 0

    def write(self, cells: list[object], month_cols: frozenset[int] = frozenset()) -> int:
        """Write one data row; returns its 1-based worksheet row number."""
        ws, r = self.ws, self.row
        if r >= XLSX_MAX_ROWS - 10:
            raise RuntimeError(f"{self.path}: more rows than an xlsx sheet holds")
        for c, v in enumerate(cells):
            if v is None or v == "":
                continue
            if isinstance(v, str):
                ws.write_string(r, c, v)
            elif isinstance(v, datetime | date):
                ws.write_datetime(r, c, v, self._month if c in month_cols else self._date)
            else:
                ws.write_number(r, c, v)
        self.row += 1
        self.data_rows += 1
        return r + 1

    def close(
        self,
        sums: dict[int, float] | None = None,
        signer: tuple[str, str] = ("", ""),
        filed: date | None = None,
    ) -> None:
        ws, st = self.ws, self.style
        if st.total_row:
            ws.write_string(self.row, 0, "合计")
            if sums:
                for c, v in sorted(sums.items()):
                    ws.write_number(self.row, c, round(v, 2))
            elif self.n_cols > 1:
                ws.write_string(self.row, 1, f"共{self.data_rows}人")
            self.row += 1
        self.row += st.blank_tail
        if st.footer:
            day = filed or date(2026, 11, 1)
            when = f"{day.year}年{day.month}月{day.day}日"
            if st.footer == 1:
                ws.write_string(
                    self.row, 0, f"填表人：{signer[0]}    审核人：{signer[1]}    填报日期：{when}"
                )
            else:
                for c, v in enumerate(("填表人：", signer[0], "审核人：", signer[1], "填报日期：", when)):
                    if c < max(self.n_cols, 6):
                        ws.write_string(self.row, c, v)
            self.row += 1
        if self.ws2 is not None:
            for r, line in enumerate(
                (
                    "1. 本表由居（村）委会按月/季/年填报。",
                    "2. 身份证号请填写18位。",
                    "3. 日期格式：YYYY-MM-DD。",
                )
            ):
                self.ws2.write_string(r, 0, line)
        self.wb.close()


def write_broken(path: Path, kind: str, sample_rows: list[list[str]]) -> None:
    """A file that ingestion must reject: empty, not-a-zip xlsx, header-less CSV, or an unknown form."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "not_zip":
        cells = "".join(f"<td>{c}</td>" for c in ("姓名", "身份证号", "联系电话"))
        body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in sample_rows)
        path.write_bytes(
            f"<html><head><meta charset='utf-8'></head><body><table><tr>{cells}</tr>{body}</table></body></html>".encode()
        )
    elif kind == "no_header":
        path.write_bytes("\r\n".join(",".join(row) for row in sample_rows).encode("gbk") + b"\r\n")
    elif kind == "unknown_form":
        lines = ["姓名,身份证号,联系电话,备注"] + [",".join([*row, "已摸排"]) for row in sample_rows]
        path.write_bytes(("\n".join(lines) + "\n").encode("utf-8-sig"))
    else:
        raise ValueError(kind)
