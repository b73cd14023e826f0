"""Committee workbooks without xlsxwriter's per-cell and per-part work, byte-identical to `XlsxSink`.

Per file, xlsxwriter builds ten XML parts and validates every cell; at city cardinality (~120k small
workbooks) that was most of the generator's time. Eight of the parts (styles, theme, workbook, rels,
content types, document properties) depend only on the workbook's *shape*: sheet names, the second
sheet, the title merge, the column count and which cell formats are used in which order. They are made
once per shape by xlsxwriter itself, through `XlsxSink`, from a skeleton workbook, and reused. The parts
that hold data (`sheet1.xml`, `sheet2.xml`, `sharedStrings.xml`) are written here following xlsxwriter's
rules (shared-string order, 16-row spans, dimension, number formatting), and everything is zipped with
the same entries and settings. `tests/generator/test_fastxlsx.py` and the bundled sample
(`make sample`, byte for byte) hold the two paths together.
"""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
import zlib
from datetime import date, datetime
from pathlib import Path

from xlsxwriter.utility import _datetime_to_excel_datetime, xl_col_to_name
from xlsxwriter.xmlwriter import XMLwriter

from synth.generator.render import Style
from synth.generator.writers import XLSX_MAX_ROWS, XlsxSink

_SHEET_DATA = re.compile(r'^(.*?<dimension ref=")[^"]*("/>.*?<sheetData>).*(</sheetData>.*)$', re.S)
_XML = XMLwriter()
_COLS = [xl_col_to_name(c) for c in range(256)]
_INSTRUCTIONS = (
    "1. 本表由居（村）委会按月/季/年填报。",
    "2. 身份证号请填写18位。",
    "3. 日期格式：YYYY-MM-DD。",
)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]|_x[0-9a-fA-F]{4}_")  # what xlsxwriter escapes as _xHHHH_
_Member = tuple[int, int, bytes]  # uncompressed size, CRC-32, deflated bytes
# shape key → (zip entry names in order, constant parts, sheet1 (prefix, mid, suffix), sheet2 frame or None)
_Template = tuple[list[str], dict[str, _Member], tuple[str, str, str], tuple[str, str, str] | None]
_TEMPLATES: dict[tuple, _Template] = {}
_TMP: Path | None = None


def _split_sheet(xml: str) -> tuple[str, str, str]:
    m = _SHEET_DATA.match(xml)
    if m is None:
        raise ValueError("unexpected worksheet XML from xlsxwriter")
    return m.group(1), m.group(2), m.group(3)


def _template(style: Style, n_cols: int, formats: tuple[str, ...]) -> _Template:
    """The constant parts of a workbook of this shape, taken from xlsxwriter writing a skeleton of it.

    The skeleton has two columns (one when the file has one, as a one-cell title is not merged); the
    column count only shows in `<col max=…>` and the title's `<mergeCell>`, which are set per file.
    """
    wide = n_cols > 1
    date_fmt = style.date_style == "cell" if "date" in formats else None  # the date cells' num_format
    key = (style.sheet_name, style.second_sheet, style.title, date_fmt, wide, formats)
    t = _TEMPLATES.get(key)
    if t is None:
        t = _TEMPLATES[key] = _skeleton(style, 2 if wide else 1, formats)
    if not wide or n_cols == 2:
        return t
    names, parts, (pre, mid, suf), sheet2 = t
    mid = mid.replace('<col min="1" max="2" ', f'<col min="1" max="{n_cols}" ', 1)
    suf = suf.replace('<mergeCell ref="A1:B1"/>', f'<mergeCell ref="A1:{_COLS[n_cols - 1]}1"/>', 1)
    return names, parts, (pre, mid, suf), sheet2


def _skeleton(style: Style, n_cols: int, formats: tuple[str, ...]) -> _Template:
    global _TMP
    if _TMP is None:
        _TMP = Path(tempfile.mkdtemp(prefix="jianfu_xlsx_"))
    path = _TMP / "skeleton.xlsx"
    sink = XlsxSink(path, style, ["h"] * n_cols, "t", n_cols, streaming=False)
    cells: list[object] = [date(2000, 1, 1)] * len(formats)  # first use of each format, in order
    sink.write(cells, frozenset(i for i, f in enumerate(formats) if f == "month"))
    sink.close()
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        parts = {n: z.read(n) for n in names}
    path.unlink()
    sheet1 = _split_sheet(parts.pop("xl/worksheets/sheet1.xml").decode())
    sheet2 = None
    if "xl/worksheets/sheet2.xml" in parts:
        sheet2 = _split_sheet(parts.pop("xl/worksheets/sheet2.xml").decode())
    parts.pop("xl/sharedStrings.xml")
    return names, {n: _deflate(b) for n, b in parts.items()}, sheet1, sheet2


class _Sheet:
    """Cells of one worksheet as xlsxwriter stores them: row → col → XML of the cell (sans reference)."""

    def __init__(self, sst: dict[str, int], order: list[str]) -> None:
        # a row is a dict of cells, or (first col, last col, its cells' XML) when written by `data_rows`
        self.rows: dict[int, dict[int, tuple[str, str]] | tuple[int, int, str]] = {}
        self.sst, self.order = sst, order
        self.count = 0

    def string(self, r: int, c: int, s: str, xf: int = 0) -> None:
        i = self.sst.get(s)
        if i is None:
            i = self.sst[s] = len(self.order)
            self.order.append(s)
        self.count += 1
        self.rows.setdefault(r, {})[c] = (f' s="{xf}"' if xf else "", f' t="s"><v>{i}</v></c>')

    def number(self, r: int, c: int, v: float, xf: int = 0) -> None:
        self.rows.setdefault(r, {})[c] = (f' s="{xf}"' if xf else "", f"><v>{v:.16G}</v></c>")

    def blank(self, r: int, c: int, xf: int) -> None:
        self.rows.setdefault(r, {})[c] = (f' s="{xf}"', "/>")  # type: ignore[index]

    def data_rows(
        self, first: int, rows: list[list[object]], month_cols: frozenset[int], xf: dict[str, int]
    ) -> None:
        """Data rows from row `first` on, each rendered to XML at once (cells come in column order and are
        never overwritten, so a row needs no per-cell dict): what `string`/`number` per cell would make."""
        sst, order, cols, out = self.sst, self.order, _COLS, self.rows
        xf_date, xf_month = xf.get("date", 0), xf.get("month", 0)
        count = 0
        for r, cells in enumerate(rows, start=first):
            r1 = r + 1
            parts: list[str] = []
            lo = hi = -1
            for c, v in enumerate(cells):
                if v is None or v == "":
                    continue
                if lo < 0:
                    lo = c
                hi = c
                if isinstance(v, str):
                    i = sst.get(v)
                    if i is None:
                        i = sst[v] = len(order)
                        order.append(v)
                    count += 1
                    parts.append(f'<c r="{cols[c]}{r1}" t="s"><v>{i}</v></c>')
                elif isinstance(v, datetime | date):
                    serial = _datetime_to_excel_datetime(v, False, False)
                    x = xf_month if c in month_cols else xf_date
                    parts.append(f'<c r="{cols[c]}{r1}" s="{x}"><v>{serial:.16G}</v></c>')
                else:
                    parts.append(f'<c r="{cols[c]}{r1}"><v>{v:.16G}</v></c>')
            if parts:
                out[r] = (lo, hi, "".join(parts))
        self.count += count

    def xml(self, frame: tuple[str, str, str]) -> str:
        rows = self.rows
        bounds = {
            r: (cs[0], cs[1]) if isinstance(cs, tuple) else (min(cs), max(cs)) for r, cs in rows.items()
        }
        rmin, rmax = min(rows), max(rows)
        cmin = min(b[0] for b in bounds.values())
        cmax = max(b[1] for b in bounds.values())
        if rmin == rmax and cmin == cmax:
            dim = f"{_COLS[cmin]}{rmin + 1}"
        else:
            dim = f"{_COLS[cmin]}{rmin + 1}:{_COLS[cmax]}{rmax + 1}"
        blocks: dict[int, tuple[int, int]] = {}
        for r, (lo, hi) in bounds.items():  # one span per block of 16 rows
            b = r // 16
            if b in blocks:
                a, z = blocks[b]
                lo, hi = min(lo, a), max(hi, z)
            blocks[b] = (lo, hi)
        spans = {b: f"{lo + 1}:{hi + 1}" for b, (lo, hi) in blocks.items()}
        out = [frame[0], dim, frame[1]]
        for r in sorted(rows):
            r1 = r + 1
            out.append(f'<row r="{r1}" spans="{spans[r // 16]}">')
            cs = rows[r]
            if isinstance(cs, tuple):
                out.append(cs[2])
            else:
                for c in sorted(cs):
                    s, body = cs[c]
                    out.append(f'<c r="{_COLS[c]}{r1}"{s}{body}')
            out.append("</row>")
        out.append(frame[2])
        return "".join(out)


def _deflate(data: bytes) -> _Member:
    """What zipfile stores for `writestr` of `data` with ZIP_DEFLATED at the default level."""
    c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return len(data), zlib.crc32(data), c.compress(data) + c.flush()


def _zip(path: Path, names: list[str], members: dict[str, _Member]) -> None:
    """The archive xlsxwriter's `ZipFile.writestr` calls make (same headers, 1980-01-01 stamps), in one write."""
    buf = io.BytesIO()
    zf = zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=False)
    for name in names:
        size, crc, comp = members[name]
        info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16  # as ZipFile._open_to_write sets it
        info.file_size, info.compress_size, info.CRC = size, len(comp), crc
        info.header_offset = buf.tell()
        buf.write(info.FileHeader(False))
        buf.write(comp)
        zf.filelist.append(info)
        zf.NameToInfo[name] = info
    zf.start_dir = buf.tell()
    zf._didModify = True  # close() then writes the central directory and end record as writestr would
    zf.close()
    path.write_bytes(buf.getvalue())


def _sst_xml(order: list[str], count: int) -> str:
    escape = _CONTROL.search("\n".join(order)) is not None
    out = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        f'count="{count}" uniqueCount="{len(order)}">'
    ]
    for s in order:
        if escape:
            s = _XML._escape_control_characters(s)
        attr = ' xml:space="preserve"' if s and (s[0].isspace() or s[-1].isspace()) else ""
        if "&" in s or "<" in s or ">" in s:
            s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        out.append(f"<si><t{attr}>{s}</t></si>")
    out.append("</sst>")
    return "".join(out)


def write_xlsx(
    path: Path,
    style: Style,
    header: list[str],
    title: str,
    n_cols: int,
    rows: list[list[object]],
    month_cols: frozenset[int],
    sums: dict[int, float] | None,
    signer: tuple[str, str],
    filed: date | None,
) -> None:
    """Write what `XlsxSink(…, streaming=False)` + `write` per row + `close(…)` would, byte for byte."""
    # xf indices are given in order of first use: title, header, then date/month as the data uses them
    formats: list[str] = []
    for cells in rows:
        for c, v in enumerate(cells):
            if isinstance(v, datetime | date):
                f = "month" if c in month_cols else "date"
                if f not in formats:
                    formats.append(f)
        if len(formats) == 2:
            break
    names, parts, frame1, frame2 = _template(style, n_cols, tuple(formats))
    xf_title = 1 if style.title else 0
    xf_bold = xf_title + 1
    xf = {f: xf_bold + 1 + i for i, f in enumerate(formats)}
    sst: dict[str, int] = {}
    order: list[str] = []
    ws = _Sheet(sst, order)
    row = 0
    if style.title:
        ws.string(0, 0, title, xf_title)
        for c in range(1, n_cols):  # merge_range: blanks carrying the title format
            ws.blank(0, c, xf_title)
        row = 2 if style.title_gap else 1
    for c, h in enumerate(header):
        ws.string(row, c, h, xf_bold)
    row += 1
    if row + len(rows) > XLSX_MAX_ROWS - 10:
        raise RuntimeError(f"{path}: more rows than an xlsx sheet holds")
    ws.data_rows(row, rows, month_cols, xf)
    row += len(rows)
    if style.total_row:
        ws.string(row, 0, "合计")
        if sums:
            for c, v in sorted(sums.items()):
                ws.number(row, c, round(v, 2))
        elif n_cols > 1:
            ws.string(row, 1, f"共{len(rows)}人")
        row += 1
    row += style.blank_tail
    if style.footer:
        day = filed or date(2026, 11, 1)
        when = f"{day.year}年{day.month}月{day.day}日"
        if style.footer == 1:
            ws.string(row, 0, f"填表人：{signer[0]}    审核人：{signer[1]}    填报日期：{when}")
        else:
            for c, v in enumerate(("填表人：", signer[0], "审核人：", signer[1], "填报日期：", when)):
                if c < max(n_cols, 6):
                    ws.string(row, c, v)
    generated = {"xl/worksheets/sheet1.xml": ws.xml(frame1)}
    count = ws.count
    if frame2 is not None:
        ws2 = _Sheet(sst, order)
        for r, line in enumerate(_INSTRUCTIONS):
            ws2.string(r, 0, line)
        generated["xl/worksheets/sheet2.xml"] = ws2.xml(frame2)
        count += ws2.count
    generated["xl/sharedStrings.xml"] = _sst_xml(order, count)
    members = dict(parts)
    for name, xml in generated.items():
        members[name] = _deflate(xml.encode("utf-8"))
    _zip(path, names, members)
