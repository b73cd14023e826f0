"""Reading district files as staff deliver them: find them, decode them, split them into rows.

Nothing here interprets values; it only answers "which file is this, what does it say, where does
each row sit in it". Files that cannot be read raise `FileRejected` with a reason code, and the
caller records them instead of stopping.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from dataclasses import dataclass

from python_calamine import CalamineWorkbook

# Discovery and delivery identity live in landing.py; re-exported so existing imports keep working.
from assets.ingest.landing import (  # noqa: F401
    FileRejected,
    LandingFile,
    MisplacedFile,
    current_deliveries,
    discover,
    validate_location,
)

SUPPORTED_SUFFIXES = {".csv": "csv", ".xlsx": "xlsx"}


@dataclass
class ParsedFile:
    """A decoded file: every physical row with its 1-based row number."""

    encoding: str | None
    sheet: str | None
    rows: list[tuple[int, list[str]]]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_text(data: bytes, source_file: str) -> tuple[str, str]:
    """Decode CSV bytes: UTF-8 (with or without BOM), else GBK, else GB18030 (its superset)."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise FileRejected("undecodable", f"{source_file}: UTF-8 BOM but invalid UTF-8 at byte {exc.start}") from exc
    for encoding in ("utf-8", "gbk", "gb18030"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise FileRejected("undecodable", f"{source_file}: not UTF-8, GBK or GB18030")


def _cell_text(value: object) -> str:
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


def parse_file(file: LandingFile, data: bytes) -> ParsedFile:
    """Split one file into physical rows of text cells."""
    if file.file_format not in SUPPORTED_SUFFIXES.values():
        raise FileRejected("unsupported_format", f"{file.source_file}: unsupported file type '.{file.file_format}'")
    if not data.strip():
        raise FileRejected("empty_file", f"{file.source_file}: the file is empty")
    if file.file_format == "csv":
        text, encoding = decode_text(data, file.source_file)
        reader = csv.reader(io.StringIO(text, newline=""))
        rows: list[tuple[int, list[str]]] = []
        try:
            for number, cells in enumerate(reader, start=1):
                rows.append((number, cells))
        except csv.Error as exc:
            raise FileRejected("unparseable_csv", f"{file.source_file}: row {reader.line_num}: {exc}") from exc
        return ParsedFile(encoding=encoding, sheet=None, rows=rows)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheet_name = workbook.sheet_names[0]
        sheet = workbook.get_sheet_by_name(sheet_name)
        values = sheet.to_python(skip_empty_area=False)
    except Exception as exc:  # calamine raises several error types for broken workbooks
        raise FileRejected("unreadable_xlsx", f"{file.source_file}: not a readable .xlsx workbook ({exc})") from exc
    rows = [(number, [_cell_text(v) for v in row]) for number, row in enumerate(values, start=1)]
    return ParsedFile(encoding=None, sheet=sheet_name, rows=rows)
