"""The prefilled workbook: the form as its department's template looks, and reading it back when returned.

Layout of the first sheet (the one ingestion reads, so a returned file is also an ordinary delivery):
row 1 title (committee, form, period), row 2 who/what/when, row 3 the header — 序号, the form's own field
labels in catalogue order, 变动说明 (staff's reason when a person leaves) — then one row per person and a
填表人 footer. Prefilled cells are shaded; 性别 and 是/否 fields carry list validation. A hidden sheet
`_jianfu` and the custom document property `jianfu_prefill_id` carry the prefill id and the row map.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

import xlsxwriter
from python_calamine import CalamineWorkbook

META_SHEET = "_jianfu"
ID_PROPERTY = "jianfu_prefill_id"
SEQ_LABEL = "序号"
NOTE_LABEL = "变动说明"
NOTE_CHOICES = ["死亡", "迁出", "不再符合", "重复"]
CODED = {"sex": ["男", "女"], "bool": ["是", "否"]}
FOOTER = "填表人：　　　　　　联系电话：　　　　　　填表日期："
SPARE_ROWS = 50  # validation also covers rows staff add below the roster


@dataclass
class FormSheet:
    """Everything a prefilled (or returned) workbook holds."""

    prefill_id: str | None
    committee_code: str
    committee_name: str
    form_code: str
    form_name: str
    department: str
    period: str
    coverage_date: str
    labels: list[str]  # the form's field labels, catalogue order (without 序号 / 变动说明)
    field_types: list[str]
    rows: list[list[str | None]]  # one list per person, aligned with labels
    prefilled: list[list[bool]] = field(default_factory=list)
    notes: list[str | None] = field(default_factory=list)  # 变动说明 per row
    seqs: list[str | None] = field(default_factory=list)
    person_ids: list[str | None] = field(default_factory=list)  # row map for the hidden sheet


def sheet_name(form_name: str) -> str:
    bad = set("[]:*?/\\")
    return "".join(c for c in form_name if c not in bad)[:31] or "Sheet1"


def write_workbook(path: Path, sheet: FormSheet, with_id: bool = True) -> None:
    """Write `sheet` as an .xlsx at `path` (folders created): xlsxwriter's bytes, spliced per form shape
    (assets/reflow/xlsxfast.py) instead of written cell by cell. A file with the same bytes is left alone."""
    from assets.reflow.xlsxfast import workbook_bytes

    data = workbook_bytes(sheet, with_id, xlsxwriter_bytes)
    if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return  # the same bytes are there already (e.g. after a code change that writes them alike): keep mtime
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def xlsxwriter_bytes(sheet: FormSheet, with_id: bool = True) -> bytes:
    """The workbook as xlsxwriter writes it, cell by cell: the reference for the fast path."""
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"strings_to_numbers": False, "in_memory": True})
    # a fixed creation time: the same sheet gives the same bytes (seeded simulations are byte-identical)
    wb.set_properties({"title": f"{s_title(sheet)}", "created": dt.datetime(2026, 1, 1), "author": "jianfu"})
    try:
        _write(wb, sheet, with_id)
    finally:
        wb.close()
    return out.getvalue()


def s_title(s: FormSheet) -> str:
    return f"{s.committee_name}{s.form_name}（{s.period}）"


def _write(wb: xlsxwriter.Workbook, s: FormSheet, with_id: bool) -> None:
    ws = wb.add_worksheet(sheet_name(s.form_name))
    ncol = len(s.labels) + 2
    title = wb.add_format({"bold": True, "font_size": 14, "align": "center", "valign": "vcenter"})
    info = wb.add_format({"font_size": 9, "align": "left"})
    head = wb.add_format({"bold": True, "border": 1, "align": "center", "valign": "vcenter", "bg_color": "#D9D9D9",
                          "text_wrap": True})  # fmt: skip
    plain = wb.add_format({"border": 1, "num_format": "@"})
    filled = wb.add_format({"border": 1, "num_format": "@", "bg_color": "#DDEBF7"})
    ws.merge_range(0, 0, 0, ncol - 1, s_title(s), title)
    ws.set_row(0, 28)
    ws.merge_range(1, 0, 1, ncol - 1,
                   f"填报单位：{s.committee_name}（{s.committee_code}）  报表编号：{s.form_code}  主管部门："
                   f"{s.department}  统计截止：{s.coverage_date}  底色单元格为系统预填，请核对，有误直接改正", info)  # fmt: skip
    headers = [SEQ_LABEL, *s.labels, NOTE_LABEL]
    for c, label in enumerate(headers):
        ws.write_string(2, c, label, head)
        ws.set_column(c, c, _width(label, s.field_types[c - 1] if 0 < c <= len(s.labels) else ""))
    for i, values in enumerate(s.rows):
        r = 3 + i
        seq = s.seqs[i] if i < len(s.seqs) and s.seqs[i] is not None else str(i + 1)
        ws.write_string(r, 0, seq, plain)
        flags = s.prefilled[i] if i < len(s.prefilled) else [False] * len(values)
        for c, value in enumerate(values):
            fmt = filled if flags[c] else plain
            if value is None or value == "":
                ws.write_blank(r, c + 1, None, fmt)
            else:
                ws.write_string(r, c + 1, str(value), fmt)
        note = s.notes[i] if i < len(s.notes) else None
        ws.write_string(r, ncol - 1, note, plain) if note else ws.write_blank(r, ncol - 1, None, plain)
    last = 3 + len(s.rows) + SPARE_ROWS
    for c, ftype in enumerate(s.field_types):
        if ftype in CODED:
            ws.data_validation(3, c + 1, last, c + 1, {"validate": "list", "source": CODED[ftype]})
    ws.data_validation(3, ncol - 1, last, ncol - 1, {"validate": "list", "source": NOTE_CHOICES,
                                                     "error_type": "information"})  # fmt: skip
    ws.write_string(3 + len(s.rows) + 1, 0, FOOTER)
    ws.freeze_panes(3, 1)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)  # as wide as one page, as long as needed
    ws.repeat_rows(2)  # the header on every printed page
    if with_id and s.prefill_id:
        wb.set_custom_property(ID_PROPERTY, s.prefill_id)
        meta = wb.add_worksheet(META_SHEET)
        for r, (k, v) in enumerate([("prefill_id", s.prefill_id), ("committee_code", s.committee_code),
                                    ("form_code", s.form_code), ("period", s.period)]):  # fmt: skip
            meta.write_string(r, 0, k)
            meta.write_string(r, 1, v)
        meta.write_string(5, 0, "seq")
        meta.write_string(5, 1, "person_id")
        for i, pid in enumerate(s.person_ids):
            seq = s.seqs[i] if i < len(s.seqs) and s.seqs[i] is not None else str(i + 1)
            meta.write_string(6 + i, 0, seq)
            meta.write_string(6 + i, 1, pid or "")
        meta.hide()


def _width(label: str, ftype: str) -> float:
    """Column width in characters, as a department's template would size it."""
    if label == SEQ_LABEL:
        return 6
    if any(w in label for w in ("地址", "住址", "所在地", "户籍地", "详址")):
        return 36
    if ftype == "id_number":
        return 21
    if ftype == "phone":
        return 14
    return max(10, 2.2 * len(label))


# ── reading a returned file ────────────────────────────────────────────────────────────────────────


def _text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time(0) else v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v).strip()


@dataclass
class ReturnedSheet:
    prefill_id: str | None
    row_map: dict[str, str]  # seq → person_id from the hidden sheet
    header_row: int | None  # 1-based
    header: list[str]
    rows: list[tuple[int, list[str]]]  # (1-based row number, cells) below the header, non-data rows left out
    skipped: int  # blank / footer / total rows below the header


def read_returned(data: bytes) -> ReturnedSheet:
    """The prefill id (hidden sheet, if kept) and the first sheet's header and data rows."""
    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    pid, row_map = None, {}
    if META_SHEET in wb.sheet_names:
        meta = [[_text(v) for v in row] for row in wb.get_sheet_by_name(META_SHEET).to_python()]
        kv = {r[0]: r[1] for r in meta[:5] if len(r) >= 2}
        pid = kv.get("prefill_id") or None
        row_map = {r[0]: r[1] for r in meta[6:] if len(r) >= 2 and r[0]}
    first = wb.get_sheet_by_name(wb.sheet_names[0]).to_python(skip_empty_area=False)
    cells = [[_text(v) for v in row] for row in first]
    header_row = next((i for i, row in enumerate(cells[:10]) if row and row[0] == SEQ_LABEL), None)
    if header_row is None:
        return ReturnedSheet(pid, row_map, None, [], [], 0)
    header = cells[header_row]
    rows, skipped = [], 0
    for i, row in enumerate(cells[header_row + 1 :], start=header_row + 2):
        joined = "".join(row).strip()
        if not joined or row[0].startswith(("填表人", "合计")):
            skipped += 1
            continue
        rows.append((i, row + [""] * (len(header) - len(row))))
    return ReturnedSheet(pid, row_map, header_row + 1, header, rows, skipped)
