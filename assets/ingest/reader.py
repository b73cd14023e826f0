"""Reading district files as staff deliver them: find them, decode them, split them into rows.

Nothing here interprets values; it only answers "which file is this, what does it say, where does
each row sit in it". Files that cannot be read raise `FileRejected` with a reason code, and the
caller records them instead of stopping. The container is sniffed from the bytes, not the suffix:
workbooks (assets/ingest/workbook.py), HTML/XML "Excel" exports (markup.py), delimited text (textfile.py).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from assets.ingest import markup, textfile, workbook

# Discovery and delivery identity live in landing.py; re-exported so existing imports keep working.
from assets.ingest.landing import (  # noqa: F401
    FileRejected,
    LandingFile,
    MisplacedFile,
    current_deliveries,
    discover,
    validate_location,
)
from assets.ingest.workbook import Merge

SUPPORTED_SUFFIXES = {
    ".csv": "csv", ".txt": "txt", ".tsv": "tsv",
    ".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls", ".et": "et", ".ods": "ods", ".xlsb": "xlsb",
}  # fmt: skip
WORKBOOK_FORMATS = {"xlsx", "xls", "et", "ods", "xlsb"}
CONTAINER_NAMES = {"ooxml": ".xlsx", "odf": ".ods", "ole": ".xls (BIFF)", "html": "an HTML table",
                   "spreadsheetml": "Excel 2003 XML", "text": "delimited text"}  # fmt: skip


@dataclass
class SheetRows:
    """One sheet (or the one table of a text file): every physical row with its 1-based row number."""

    name: str | None
    rows: list[tuple[int, list[str]]]
    hidden: bool = False  # the sender hid the sheet
    hidden_rows: set[int] = field(default_factory=set)
    merges: list[Merge] = field(default_factory=list)  # (first_row, first_col, last_row, last_col)
    delimiter: str | None = None  # text files: the delimiter found
    row_flags: dict[int, list[str]] = field(
        default_factory=dict
    )  # reader findings per row (unbalanced_quote)


@dataclass
class SkippedSheet:
    """A sheet that holds no delivered rows, and why (instructions, empty, hidden_lookup, …)."""

    name: str
    reason: str
    rows: int

    def note(self) -> str:
        return f"sheet '{self.name}' skipped: {self.reason} ({self.rows} rows)"


@dataclass
class ParsedFile:
    """A decoded file: its candidate data sheets and the sheets skipped outright (with reason)."""

    encoding: str | None
    sheets: list[SheetRows]
    skipped_sheets: list[SkippedSheet] = field(default_factory=list)
    container: str | None = None  # ooxml | ole | odf | html | spreadsheetml | text
    notes: list[str] = field(default_factory=list)  # e.g. "named .xls but is .xlsx", a BOM that lied

    @property
    def sheet(self) -> str | None:
        return self.sheets[0].name if self.sheets else None

    @property
    def rows(self) -> list[tuple[int, list[str]]]:
        """Rows of every candidate sheet, in order (row numbers restart per sheet)."""
        return [row for sheet in self.sheets for row in sheet.rows]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_text(data: bytes, source_file: str) -> tuple[str, str]:
    """Decode text bytes (UTF-8 with or without BOM, UTF-16, GBK, GB18030); see textfile.decode_bytes."""
    try:
        decoded = textfile.decode_bytes(data, source_file)
    except textfile.TextDecodeError as exc:
        raise FileRejected("undecodable", str(exc)) from exc
    return decoded.text, decoded.encoding


_cell_text = workbook.cell_text
HTML_CHARSET = re.compile(rb"charset\s*=\s*[\"']?\s*([a-z0-9_-]+)", re.IGNORECASE)


def _has_content(rows: list[tuple[int, list[str]]]) -> bool:
    return any(c and not c.isspace() for _, cells in rows for c in cells)


def _from_sheets(sheets: list[workbook.Sheet], skipped: list[SkippedSheet], container: str,
                 encoding: str | None, source_file: str) -> ParsedFile:  # fmt: skip
    """Keep sheets with content; an empty sheet is skipped and recorded; no content at all rejects."""
    kept: list[SheetRows] = []
    for s in sheets:
        if _has_content(s.rows):
            kept.append(SheetRows(s.name, s.rows, s.hidden, s.hidden_rows, s.merges))
        else:
            skipped.append(SkippedSheet(s.name, "empty", len(s.rows)))
    if not kept:
        raise FileRejected("empty_file", f"{source_file}: no sheet holds any cell")
    return ParsedFile(encoding=encoding, sheets=kept, skipped_sheets=skipped, container=container)


def _decode_markup(data: bytes, source_file: str) -> textfile.Decoded:
    declared = HTML_CHARSET.search(data[:4096])
    if declared:
        codec = declared.group(1).decode("ascii").lower()
        codec = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030"}.get(codec, codec)
        try:
            return textfile.Decoded(data.decode(codec).lstrip("\ufeff"), codec)
        except (LookupError, UnicodeDecodeError):
            pass
    return textfile.decode_bytes(data, source_file)


def parse_file(file: LandingFile, data: bytes) -> ParsedFile:
    """Split one file into sheets of physical rows of text cells, whatever its suffix claims."""
    fmt = SUPPORTED_SUFFIXES.get(f".{file.file_format}")  # landing.py keeps the suffix as found (xlsm)
    if fmt is None:
        raise FileRejected(
            "unsupported_format", f"{file.source_file}: unsupported file type '.{file.file_format}'"
        )
    if not data.strip():
        raise FileRejected("empty_file", f"{file.source_file}: the file is empty")
    named_workbook = fmt in WORKBOOK_FORMATS
    container = workbook.sniff_container(data)
    if container != "other":
        try:
            container, sheets, skipped = workbook.read_workbook(data, file.source_file)
        except workbook.WorkbookRejected as exc:
            raise FileRejected(exc.reason_code, str(exc)) from exc
        parsed = _from_sheets(sheets, [SkippedSheet(*s) for s in skipped], container, None, file.source_file)
    else:
        try:
            decoded = _decode_markup(data, file.source_file) if data.lstrip()[:1] == b"<" else \
                textfile.decode_bytes(data, file.source_file)  # fmt: skip
        except textfile.TextDecodeError as exc:
            if named_workbook:
                raise FileRejected(
                    "unreadable_workbook", f"{file.source_file}: neither a workbook nor text"
                ) from exc
            raise FileRejected("undecodable", str(exc)) from exc
        parsed = _parse_text(file, decoded, named_workbook)
    expected = {"xlsx": "ooxml", "xlsb": "ooxml", "xls": "ole", "et": "ole", "ods": "odf"}.get(fmt, "text")
    if parsed.container != expected:
        parsed.notes.append(
            f"named .{file.file_format} but the content is {CONTAINER_NAMES.get(parsed.container)}"
        )
    return parsed


def _parse_text(file: LandingFile, decoded: textfile.Decoded, named_workbook: bool) -> ParsedFile:
    text = decoded.text
    if not text.strip():
        raise FileRejected("empty_file", f"{file.source_file}: the file holds no text")
    if markup.looks_like_html(text):
        parsed = _from_sheets(markup.read_html(text), [], "html", decoded.encoding, file.source_file)
    elif markup.looks_like_spreadsheet_ml(text):
        try:
            sheets = markup.read_spreadsheet_ml(text)
        except Exception as exc:  # ElementTree.ParseError and friends
            raise FileRejected(
                "unreadable_workbook", f"{file.source_file}: broken Excel 2003 XML ({exc})"
            ) from exc
        parsed = _from_sheets(sheets, [], "spreadsheetml", decoded.encoding, file.source_file)
    else:
        dialect = textfile.sniff_dialect(text)
        if named_workbook and dialect.columns < 2:
            raise FileRejected(
                "unreadable_workbook",
                f"{file.source_file}: not a workbook, and not a table of delimited text",
            )
        flags: dict[int, list[str]] = {}
        try:
            rows = textfile.read_records(text, dialect, flags)
        except Exception as exc:  # csv.Error: NUL byte, field larger than the limit
            raise FileRejected("unparseable_csv", f"{file.source_file}: {exc}") from exc
        sheet = SheetRows(None, rows, delimiter=dialect.delimiter, row_flags=flags)
        parsed = ParsedFile(decoded.encoding, [sheet], container="text")
        if dialect.delimiter != ",":
            parsed.notes.append(f"delimiter {dialect.delimiter!r}")
    parsed.notes += decoded.notes
    return parsed
