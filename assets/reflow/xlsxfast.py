"""The prefilled workbook's bytes without xlsxwriter's per-cell cost: xlsxwriter's own output, spliced.

Profiling the bench build (13,547 workbooks) showed ~9 ms per workbook, nearly all in xlsxwriter's generic
per-cell Python (argument checks, the shared-string table, the XML writer, one call per blank cell). Our
workbooks have one fixed shape (workbook.py `_write`): everything but the cell rows, the shared strings, two
`dimension` refs, the validation ranges, the title and the prefill id is the same for every workbook of a
form. So xlsxwriter writes a skeleton once per form shape (cached per process), and each workbook splices
its rows and strings into it. The result is the same bytes xlsxwriter writes for the sheet
(tests/reflow/test_xlsxfast.py compares them); a sheet outside the fast path's assumptions (a row whose
length differs from the labels, control characters, strings that xlsxwriter treats as rich text or
truncates) is written by xlsxwriter itself.
"""

from __future__ import annotations

import functools
import io
import re
import zipfile
from collections.abc import Callable

from xlsxwriter.utility import xl_col_to_name

from assets.reflow.workbook import FOOTER, NOTE_LABEL, SEQ_LABEL, FormSheet, s_title

SHEET1, SHEET2, SST = "xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml", "xl/sharedStrings.xml"
CORE, CUSTOM = "docProps/core.xml", "docProps/custom.xml"
# placeholders (private-use characters) for the per-workbook parts of the skeleton's title and prefill id
PH_COMMITTEE, PH_PERIOD, PH_ID = "\ue000", "\ue001", "\ue002"
# xlsxwriter styles in order of first use: title 1, info 2, header 3, plain 4, prefilled 5
TITLE, INFO, HEAD, PLAIN, FILLED = 1, 2, 3, 4, 5
_UNSAFE = re.compile(r"_x[0-9a-fA-F]{4}_|[\x00-\x08\x0b-\x1f\ufffe\uffff]")
_EDGE_SPACE = re.compile(r"^\s|\s$")
_SQREF = re.compile(r'sqref="([A-Z]+)4:([A-Z]+)(\d+)"')
_DIMENSION = re.compile(r'<dimension ref="[^"]*"/>')


def _esc(text: str) -> str:
    if "&" not in text and "<" not in text and ">" not in text:
        return text
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _safe(text: str) -> bool:
    """Strings xlsxwriter writes as plain escaped shared strings (no _xHHHH_ escapes, rich text, truncation)."""
    return not (
        _UNSAFE.search(text) or (text.startswith("<r>") and text.endswith("</r>")) or len(text) > 16000
    )


def _all_safe(texts: list[str]) -> bool:
    """`_safe` for many strings at once (one regex pass; the newline joining them is itself safe)."""
    joined = "\n".join(texts)
    if _UNSAFE.search(joined) or max(map(len, texts), default=0) > 16000:
        return False
    return "<r>" not in joined or all(_safe(t) for t in texts)


class _Strings:
    """xlsxwriter's shared-string table: indices in order of first write, `count` = every string cell."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.count = 0

    def __call__(self, text: str) -> int:
        self.count += 1
        i = self.index.get(text)
        if i is None:
            i = self.index[text] = len(self.index)
        return i

    def xml(self) -> str:
        parts = [
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="http://schemas.openxmlformats.org'
            f'/spreadsheetml/2006/main" count="{self.count}" uniqueCount="{len(self.index)}">'
        ]  # fmt: skip
        for text in self.index:
            attr = ' xml:space="preserve"' if _EDGE_SPACE.search(text) else ""
            parts.append(f"<si><t{attr}>{_esc(text)}</t></si>")
        parts.append("</sst>")
        return "".join(parts)


@functools.lru_cache(maxsize=512)
def _skeleton(
    form_name: str, labels: tuple[str, ...], types: tuple[str, ...], with_id: bool, rows: int, filled: bool
) -> tuple[list[tuple[zipfile.ZipInfo, bytes]], dict[str, str]]:
    """xlsxwriter's workbook for this form shape: its zip members in order, and the text of the parts
    that are spliced per workbook (the styles depend on which formats are used: `rows`, `filled`)."""
    from assets.reflow.workbook import xlsxwriter_bytes

    sheet = FormSheet(
        prefill_id=PH_ID, committee_code="", committee_name=PH_COMMITTEE, form_code="", form_name=form_name,
        department="", period=PH_PERIOD, coverage_date="", labels=list(labels), field_types=list(types),
        rows=[["x" if filled else None] * len(labels)] * rows, prefilled=[[filled] * len(labels)] * rows,
    )  # fmt: skip
    with zipfile.ZipFile(io.BytesIO(xlsxwriter_bytes(sheet, with_id))) as zf:
        members = [(info, zf.read(info)) for info in zf.infolist()]
    text = {info.filename: data.decode("utf-8") for info, data in members
            if info.filename in (SHEET1, SHEET2, CORE, CUSTOM)}  # fmt: skip
    return members, text


def workbook_bytes(sheet: FormSheet, with_id: bool, fallback: Callable[[FormSheet, bool], bytes]) -> bytes:
    """The .xlsx bytes of `sheet` (what `fallback`, xlsxwriter, writes), spliced into a cached skeleton."""
    s = sheet
    n, width = len(s.rows), len(s.labels)
    with_id = bool(with_id and s.prefill_id)
    flags = [s.prefilled[i] if i < len(s.prefilled) else [False] * width for i in range(n)]
    seqs = [s.seqs[i] if i < len(s.seqs) and s.seqs[i] is not None else str(i + 1) for i in range(n)]
    notes = [s.notes[i] if i < len(s.notes) else None for i in range(n)]
    texts = [
        s_title(s),
        s.committee_name,
        s.period,
        s.prefill_id or "",
        *s.labels,
        *seqs,
        *(x for x in notes if x),
    ]
    values = [v for r in s.rows for v in r if v is not None]
    if with_id:
        values += [p for p in s.person_ids if p is not None]
    if (
        any(len(r) != width or len(f) < width for r, f in zip(s.rows, flags, strict=True))
        or not all(isinstance(t, str) for t in texts)
        or not all(isinstance(v, str) for v in values)
        or not _all_safe(texts + values)
    ):
        return fallback(sheet, with_id)
    any_filled = any(f[c] for r, f in zip(s.rows, flags, strict=True) for c in range(len(r)))
    k = 1 if n else 0
    members, text = _skeleton(s.form_name, tuple(s.labels), tuple(s.field_types), with_id, k, any_filled)
    sst = _Strings()
    ncol = width + 2
    cols = [xl_col_to_name(c) for c in range(ncol)]
    footer = 3 + n + 1  # 0-based row of the 填表人 footer
    # spans per block of 16 rows: full width while the block holds a title/header/data row, else the footer
    span = {b: (f"1:{ncol}" if b * 16 <= 2 + n else "1:1") for b in range(footer // 16 + 1)}
    rows: list[str] = []

    def row_tag(r: int, extra: str = "") -> str:
        return f'<row r="{r + 1}" spans="{span[r // 16]}"{extra}>'

    m = re.search(r'<row r="1" spans="[^"]*"([^>]*)>', text[SHEET1])
    rows.append(row_tag(0, m.group(1) if m else ""))
    rows.append(f'<c r="A1" s="{TITLE}" t="s"><v>{sst(s_title(s))}</v></c>')
    rows += [f'<c r="{c}1" s="{TITLE}"/>' for c in cols[1:]]
    info = (f"填报单位：{s.committee_name}（{s.committee_code}）  报表编号：{s.form_code}  主管部门：{s.department}  "
            f"统计截止：{s.coverage_date}  底色单元格为系统预填，请核对，有误直接改正")  # fmt: skip
    if not _safe(info):
        return fallback(sheet, with_id)
    rows.append(f'</row>{row_tag(1)}<c r="A2" s="{INFO}" t="s"><v>{sst(info)}</v></c>')
    rows += [f'<c r="{c}2" s="{INFO}"/>' for c in cols[1:]]
    rows.append(f"</row>{row_tag(2)}")
    for c, label in enumerate([SEQ_LABEL, *s.labels, NOTE_LABEL]):
        rows.append(f'<c r="{cols[c]}3" s="{HEAD}" t="s"><v>{sst(label)}</v></c>')
    rows.append("</row>")
    for i, values in enumerate(s.rows):
        r = 3 + i
        ref = str(r + 1)
        rows.append(f'{row_tag(r)}<c r="A{ref}" s="{PLAIN}" t="s"><v>{sst(seqs[i])}</v></c>')
        f = flags[i]
        for c, value in enumerate(values):
            style = FILLED if f[c] else PLAIN
            if value is None or value == "":
                rows.append(f'<c r="{cols[c + 1]}{ref}" s="{style}"/>')
            else:
                rows.append(f'<c r="{cols[c + 1]}{ref}" s="{style}" t="s"><v>{sst(value)}</v></c>')
        note = notes[i]
        last = cols[ncol - 1] + ref
        rows.append(f'<c r="{last}" s="{PLAIN}" t="s"><v>{sst(note)}</v></c></row>' if note
                    else f'<c r="{last}" s="{PLAIN}"/></row>')  # fmt: skip
    rows.append(f'{row_tag(footer)}<c r="A{footer + 1}" t="s"><v>{sst(FOOTER)}</v></c></row>')
    sheet1 = _splice(text[SHEET1], f"A1:{cols[-1]}{footer + 1}", "".join(rows))
    sheet1 = _SQREF.sub(lambda g: f'sqref="{g.group(1)}4:{g.group(2)}{3 + n + 50 + 1}"', sheet1)
    parts = {SHEET1: sheet1, CORE: text[CORE].replace(PH_COMMITTEE, _esc(s.committee_name)).replace(
        PH_PERIOD, _esc(s.period))}  # fmt: skip
    if with_id:
        meta = [('<row r="{r}" spans="1:2"><c r="A{r}" t="s"><v>{a}</v></c><c r="B{r}" t="s"><v>{b}</v></c></row>')
                .format(r=r + 1, a=sst(key), b=sst(val)) for r, (key, val) in enumerate(
                    [("prefill_id", s.prefill_id), ("committee_code", s.committee_code), ("form_code", s.form_code),
                     ("period", s.period)])]  # fmt: skip
        if not all(_safe(v) for v in (s.committee_code, s.form_code)):
            return fallback(sheet, with_id)
        meta.append(f'<row r="6" spans="1:2"><c r="A6" t="s"><v>{sst("seq")}</v></c>'
                    f'<c r="B6" t="s"><v>{sst("person_id")}</v></c></row>')  # fmt: skip
        for i, pid in enumerate(s.person_ids):
            seq = s.seqs[i] if i < len(s.seqs) and s.seqs[i] is not None else str(i + 1)
            meta.append(f'<row r="{7 + i}" spans="1:2"><c r="A{7 + i}" t="s"><v>{sst(seq)}</v></c>'
                        f'<c r="B{7 + i}" t="s"><v>{sst(pid or "")}</v></c></row>')  # fmt: skip
        parts[SHEET2] = _splice(text[SHEET2], f"A1:B{6 + len(s.person_ids)}", "".join(meta))
        parts[CUSTOM] = text[CUSTOM].replace(PH_ID, _esc(s.prefill_id or ""))
    parts[SST] = sst.xml()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for info_, data in members:
            z = zipfile.ZipInfo(info_.filename, (1980, 1, 1, 0, 0, 0))
            z.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(z, parts[info_.filename].encode("utf-8") if info_.filename in parts else data)
    return out.getvalue()


def _splice(xml: str, dimension: str, sheet_data: str) -> str:
    """The skeleton's worksheet with this workbook's dimension and rows."""
    head, rest = xml.split("<sheetData>", 1)
    _, tail = rest.split("</sheetData>", 1)
    head = _DIMENSION.sub(f'<dimension ref="{dimension}"/>', head, count=1)
    return f"{head}<sheetData>{sheet_data}</sheetData>{tail}"
