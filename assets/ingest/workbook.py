"""Workbooks as offices save them: .xlsx, legacy .xls (BIFF), WPS .et, .ods, whatever the file is named.

The container is told by its first bytes, not by the suffix: a zip is OOXML or ODF, an OLE compound file is
BIFF (or an encrypted OOXML package), and the rest is for the HTML/text readers. python-calamine reads the
cell values of OOXML and BIFF; what it does not expose (hidden rows, encryption) is read from the
container here with the standard library, olefile and xlrd. ODF is read by assets/ingest/odf.py.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import zipfile
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

import olefile
from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

from assets.ingest import odf

log = logging.getLogger(__name__)

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_END = b"PK\x05\x06"
BIFF_FILEPASS = 0x002F
XLSX_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"

Merge = tuple[int, int, int, int]  # (first_row, first_col, last_row, last_col): rows 1-based, columns 0-based


class WorkbookRejected(Exception):
    """A workbook that cannot be read; `reason_code` is machine-readable."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code


@dataclass
class Sheet:
    """One worksheet's cells (text) and what the container says about it."""

    name: str
    rows: list[tuple[int, list[str]]]
    hidden: bool = False
    hidden_rows: set[int] = field(default_factory=set)
    merges: list[Merge] = field(default_factory=list)


def sniff_container(data: bytes) -> str:
    """'ooxml', 'odf', 'zip' (neither), 'ole', or 'other' from the first bytes."""
    if data.startswith(ZIP_MAGIC):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except zipfile.BadZipFile:
            return "zip"
        if "xl/workbook.xml" in names or "xl/workbook.bin" in names:
            return "ooxml"
        if "content.xml" in names:
            return "odf"
        return "zip"
    if data.startswith(OLE_MAGIC):
        return "ole"
    return "other"


def cell_text(value: object) -> str:
    """Excel cell → text as a person would read it (dates ISO, integral floats without .0)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


def _check_zip(data: bytes, source_file: str) -> None:
    if ZIP_END not in data[-66000:]:
        raise WorkbookRejected(
            "truncated_workbook", f"{source_file}: the workbook is cut short (zip has no end record)"
        )
    try:
        bad = zipfile.ZipFile(io.BytesIO(data)).testzip()
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise WorkbookRejected("unreadable_workbook", f"{source_file}: damaged workbook ({exc})") from exc
    if bad:
        raise WorkbookRejected(
            "unreadable_workbook", f"{source_file}: damaged workbook (member {bad} is corrupt)"
        )


def _ole_header_needs(data: bytes) -> int:
    """Bytes the compound-file header says exist: its FAT sectors and first directory sector must fit."""
    if len(data) < 512:
        return 512
    sector = 1 << int.from_bytes(data[0x1E:0x20], "little")
    sectors = [int.from_bytes(data[0x30:0x34], "little")]
    sectors += [int.from_bytes(data[o : o + 4], "little") for o in range(0x4C, 0x200, 4)]
    used = [s for s in sectors if s < 0xFFFFFFFA]
    return (max(used) + 2) * sector if used else 512


ENCRYPTION_NAMES = ("EncryptionInfo".encode("utf-16-le"), "EncryptedPackage".encode("utf-16-le"))


def _check_ole(data: bytes, source_file: str) -> None:
    """Refuse encrypted and truncated compound files before calamine guesses at them."""
    if any(name in data for name in ENCRYPTION_NAMES):  # directory entry names, even when the file is cut
        raise WorkbookRejected(
            "encrypted_workbook",
            f"{source_file}: the workbook is password-protected; ask for an unprotected copy",
        )
    needs = _ole_header_needs(data)
    if needs > len(data):
        raise WorkbookRejected(
            "truncated_workbook",
            f"{source_file}: the workbook is cut short ({len(data)} bytes, needs {needs})",
        )
    try:
        ole = olefile.OleFileIO(data)
        streams = {"/".join(p) for p in ole.listdir()}
    except Exception as exc:  # olefile raises several types for damaged files
        reason = (
            "truncated_workbook"
            if len(data) % 512 or "incomplete" in str(exc).lower()
            else "unreadable_workbook"
        )
        raise WorkbookRejected(reason, f"{source_file}: damaged compound file ({exc})") from exc
    used = [i for i, nxt in enumerate(ole.fat) if nxt != olefile.FREESECT]
    if used and (max(used) + 2) * ole.sectorsize > len(data):
        raise WorkbookRejected(
            "truncated_workbook",
            f"{source_file}: the workbook is cut short ({len(data)} bytes, its allocation table needs "
            f"{(max(used) + 2) * ole.sectorsize})",
        )
    if "EncryptionInfo" in streams or "EncryptedPackage" in streams:
        raise WorkbookRejected(
            "encrypted_workbook",
            f"{source_file}: the workbook is password-protected; ask for an unprotected copy",
        )
    stream = next((s for s in ("Workbook", "Book") if s in streams), None)
    if stream is None:
        raise WorkbookRejected(
            "unreadable_workbook", f"{source_file}: compound file without a workbook stream"
        )
    try:
        content = ole.openstream(stream).read()
    except Exception as exc:
        raise WorkbookRejected(
            "truncated_workbook", f"{source_file}: workbook stream is cut short ({exc})"
        ) from exc
    if len(content) < ole.get_size(stream):
        raise WorkbookRejected("truncated_workbook", f"{source_file}: workbook stream is cut short")
    head = content[:4096]
    pos = 0
    for _ in range(64):  # FILEPASS, when present, follows BOF within the first records
        if pos + 4 > len(head):
            break
        rtype = int.from_bytes(head[pos : pos + 2], "little")
        size = int.from_bytes(head[pos + 2 : pos + 4], "little")
        if rtype == BIFF_FILEPASS:
            raise WorkbookRejected(
                "encrypted_workbook",
                f"{source_file}: the workbook is password-protected; ask for an unprotected copy",
            )
        if rtype == 0x0085:  # BOUNDSHEET: past the point where FILEPASS can be
            break
        pos += 4 + size


def _read_odf(data: bytes, source_file: str) -> tuple[list[Sheet], list[tuple[str, str, int]]]:
    """ODF straight from content.xml (values, hidden rows and sheets, merged areas in one pass)."""
    try:
        tables = odf.scan(data)
    except (KeyError, ET.ParseError, ValueError, zipfile.BadZipFile) as exc:
        raise WorkbookRejected("unreadable_workbook", f"{source_file}: not a readable .ods ({exc})") from exc
    sheets = [Sheet(t.name, t.rows, t.hidden, t.hidden_rows, t.merges) for t in tables]
    return sheets, []


def read_workbook(data: bytes, source_file: str) -> tuple[str, list[Sheet], list[tuple[str, str, int]]]:
    """(container, worksheets, skipped) where skipped lists (sheet name, reason, rows) of non-worksheets."""
    container = sniff_container(data)
    if container in ("zip", "ooxml", "odf"):
        _check_zip(data, source_file)
    if container == "zip":
        raise WorkbookRejected("unreadable_workbook", f"{source_file}: a zip archive, not a workbook")
    if container == "ole":
        _check_ole(data, source_file)
    if container == "odf":
        return container, *_read_odf(data, source_file)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        metadata = list(workbook.sheets_metadata)
    except BaseException as exc:  # calamine: several error types, and a Rust panic
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise WorkbookRejected(
            "unreadable_workbook", f"{source_file}: not a readable workbook ({exc})"
        ) from exc
    hidden_rows = _hidden_rows(container, data)
    sheets: list[Sheet] = []
    skipped: list[tuple[str, str, int]] = []
    for meta in metadata:
        if meta.typ != SheetTypeEnum.WorkSheet:
            skipped.append((meta.name, "not_a_worksheet", 0))
            continue
        try:
            sheet = workbook.get_sheet_by_name(meta.name)
            values = sheet.to_python(skip_empty_area=False)
            merges = [(a[0] + 1, a[1], b[0] + 1, b[1]) for a, b in (sheet.merged_cell_ranges or [])]
        except BaseException as exc:  # as above: a damaged sheet can make calamine panic
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            raise WorkbookRejected(
                "unreadable_workbook", f"{source_file}: sheet '{meta.name}' cannot be read ({exc})"
            ) from exc
        rows = [(n, [cell_text(v) for v in row]) for n, row in enumerate(values, start=1)]
        sheets.append(
            Sheet(
                name=meta.name,
                rows=rows,
                hidden=meta.visible != SheetVisibleEnum.Visible,
                hidden_rows=hidden_rows.get(meta.name, set()),
                merges=merges,
            )
        )
    return container, sheets, skipped


def _hidden_rows(container: str, data: bytes) -> dict[str, set[int]]:
    """Sheet name → 1-based numbers of rows hidden by the sender (best effort: never fails the file)."""
    try:
        if container == "ooxml":
            return _ooxml_hidden_rows(data)
        if container == "ole":
            return _biff_hidden_rows(data)
    except Exception as exc:  # metadata only: the values are read by calamine either way
        log.warning("hidden rows not readable: %s", exc)
    return {}


ROW_TAG = re.compile(rb"<(?:\w+:)?row\b([^>]*)>")
HIDDEN_ATTR = re.compile(rb"""\bhidden=["'](?:1|true)["']""")
ROW_NUMBER_ATTR = re.compile(rb"""\br=["'](\d+)["']""")


def _hidden_in_sheet_xml(raw: bytes) -> set[int]:
    """Numbers of <row hidden="1"> elements; a regex scan, since most sheets hide nothing and are large."""
    if b"hidden=" not in raw:
        return set()
    hidden: set[int] = set()
    number = 0
    for match in ROW_TAG.finditer(raw):
        attrs = match.group(1)
        explicit = ROW_NUMBER_ATTR.search(attrs)
        number = int(explicit.group(1)) if explicit else number + 1  # r may be left out: rows follow on
        if HIDDEN_ATTR.search(attrs):
            hidden.add(number)
    return hidden


def _ooxml_hidden_rows(data: bytes) -> dict[str, set[int]]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = set(archive.namelist())
    if "xl/workbook.xml" not in names:
        return {}
    rels = ET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{{{PKG_REL}}}Relationship")}
    book = ET.fromstring(archive.read("xl/workbook.xml"))
    out: dict[str, set[int]] = {}
    for sheet in book.iter(f"{{{XLSX_MAIN}}}sheet"):
        target = targets.get(sheet.get(f"{{{REL_NS}}}id"), "")
        path = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        if path not in names:
            continue
        out[sheet.get("name", "")] = _hidden_in_sheet_xml(archive.read(path))
    return out


def _biff_hidden_rows(data: bytes) -> dict[str, set[int]]:
    import xlrd  # only legacy workbooks need it

    book = xlrd.open_workbook(file_contents=data, formatting_info=True, on_demand=True)
    out: dict[str, set[int]] = {}
    for index in range(book.nsheets):
        sheet = book.sheet_by_index(index)
        out[sheet.name] = {r + 1 for r, info in sheet.rowinfo_map.items() if info.hidden}
        book.unload_sheet(index)
    return out
