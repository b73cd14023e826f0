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
from pathlib import Path

from assets.ingest import markup, textfile, workbook
from assets.ingest.workbook import Merge

SUPPORTED_SUFFIXES = {
    ".csv": "csv", ".txt": "txt", ".tsv": "tsv",
    ".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls", ".et": "et", ".ods": "ods", ".xlsb": "xlsb",
}  # fmt: skip
WORKBOOK_FORMATS = {"xlsx", "xls", "et", "ods", "xlsb"}
CONTAINER_NAMES = {"ooxml": ".xlsx", "odf": ".ods", "ole": ".xls (BIFF)", "html": "an HTML table",
                   "spreadsheetml": "Excel 2003 XML", "text": "delimited text"}  # fmt: skip
COMMITTEE_CODE_PREFIX = re.compile(r"^(\d{12})(?!\d)")
PERIOD_PATTERNS = {
    "monthly": re.compile(r"^\d{4}-(0[1-9]|1[0-2])$"),
    "quarterly": re.compile(r"^\d{4}Q[1-4]$"),
    "annual": re.compile(r"^\d{4}$"),
    "adhoc": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
}
# A later delivery of the same committee/form/period names itself a correction; the highest rank wins.
CORRECTION_MARK = re.compile(r"(更正|修正|修订|_v(\d+)|（(\d+)）|\((\d+)\))$", re.IGNORECASE)


class FileRejected(Exception):
    """A file that cannot be used at all; `reason_code` is machine-readable."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message


@dataclass(frozen=True)
class LandingFile:
    """One delivered file and what its place in the landing zone says about it."""

    path: Path
    source_file: str  # relative to the landing root, posix
    district_code: str
    form_code: str
    period: str
    committee_code: str | None  # None: a district-wide file with a committee column
    file_format: str
    size_bytes: int
    modified_at: float

    @property
    def delivery_key(self) -> tuple[str, str, str, str]:
        """Files with the same key are deliveries of the same report; only the newest counts."""
        return (self.district_code, self.form_code, self.period, self.committee_code or "*")

    @property
    def correction_rank(self) -> int:
        match = CORRECTION_MARK.search(Path(self.source_file).stem)
        if not match:
            return 0
        number = next((g for g in match.groups()[1:] if g), None)
        return int(number) if number else 1


@dataclass
class MisplacedFile:
    """A file whose path does not follow `<district>/<form>/<period>/<file>`."""

    path: Path
    source_file: str
    district_code: str | None
    reason_code: str
    message: str


@dataclass
class SheetRows:
    """One sheet (or the one table of a text file): every physical row with its 1-based row number."""

    name: str | None
    rows: list[tuple[int, list[str]]]
    hidden: bool = False  # the sender hid the sheet
    hidden_rows: set[int] = field(default_factory=set)
    merges: list[Merge] = field(default_factory=list)  # (first_row, first_col, last_row, last_col)
    delimiter: str | None = None  # text files: the delimiter found
    row_flags: dict[int, list[str]] = field(default_factory=dict)  # reader findings per row (unbalanced_quote)


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


def discover(root: Path, district_code: str | None = None) -> tuple[list[LandingFile], list[MisplacedFile]]:
    """List the delivered files under `root` (one district, or all), sorted by path."""
    root = Path(root)
    files: list[LandingFile] = []
    misplaced: list[MisplacedFile] = []
    district_dirs = [root / district_code] if district_code else sorted(root.iterdir())
    for district_dir in district_dirs:
        if not district_dir.is_dir() or not re.fullmatch(r"\d{6}", district_dir.name):
            continue
        for path in sorted(p for p in district_dir.rglob("*") if p.is_file()):
            rel = path.relative_to(root)
            parts = rel.parts
            stat = path.stat()
            if path.name.startswith((".", "~$")):
                continue  # editor lock files and dotfiles are not deliveries
            if len(parts) != 4:
                misplaced.append(
                    MisplacedFile(
                        path,
                        rel.as_posix(),
                        district_dir.name,
                        "bad_location",
                        f"{rel.as_posix()}: expected <district>/<form>/<period>/<file>, got {len(parts)} levels",
                    )
                )
                continue
            suffix = path.suffix.lower()
            match = COMMITTEE_CODE_PREFIX.match(path.name)
            files.append(
                LandingFile(
                    path=path,
                    source_file=rel.as_posix(),
                    district_code=parts[0],
                    form_code=parts[1],
                    period=parts[2],
                    committee_code=match.group(1) if match else None,
                    file_format=SUPPORTED_SUFFIXES.get(suffix, suffix.lstrip(".") or "none"),
                    size_bytes=stat.st_size,
                    modified_at=stat.st_mtime,
                )
            )
    return files, misplaced


def current_deliveries(files: list[LandingFile]) -> tuple[list[LandingFile], dict[str, LandingFile]]:
    """Split deliveries into the current file per report and the ones a correction replaced.

    Returns (current, superseded) where `superseded` maps a replaced file's source_file to the file
    that replaced it. A correction is recognised by its name (更正 / 修正 / _v2 …) first and by its
    modification time second, since a git checkout or a copy can reset modification times.
    """
    by_key: dict[tuple[str, str, str, str], list[LandingFile]] = {}
    for f in files:
        by_key.setdefault(f.delivery_key, []).append(f)
    current: list[LandingFile] = []
    superseded: dict[str, LandingFile] = {}
    for group in by_key.values():
        group.sort(key=lambda f: (f.correction_rank, int(f.modified_at), f.source_file))
        winner = group[-1]
        current.append(winner)
        for loser in group[:-1]:
            superseded[loser.source_file] = winner
    current.sort(key=lambda f: f.source_file)
    return current, superseded


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
    if file.file_format not in SUPPORTED_SUFFIXES.values():
        raise FileRejected("unsupported_format", f"{file.source_file}: unsupported file type '.{file.file_format}'")
    if not data.strip():
        raise FileRejected("empty_file", f"{file.source_file}: the file is empty")
    named_workbook = file.file_format in WORKBOOK_FORMATS
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
                raise FileRejected("unreadable_workbook", f"{file.source_file}: neither a workbook nor text") from exc
            raise FileRejected("undecodable", str(exc)) from exc
        parsed = _parse_text(file, decoded, named_workbook)
    expected = {"xlsx": "ooxml", "xlsb": "ooxml", "xls": "ole", "et": "ole", "ods": "odf"}.get(file.file_format, "text")
    if parsed.container != expected:
        parsed.notes.append(f"named .{file.file_format} but the content is {CONTAINER_NAMES.get(parsed.container)}")
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
            raise FileRejected("unreadable_workbook", f"{file.source_file}: broken Excel 2003 XML ({exc})") from exc
        parsed = _from_sheets(sheets, [], "spreadsheetml", decoded.encoding, file.source_file)
    else:
        dialect = textfile.sniff_dialect(text)
        if named_workbook and dialect.columns < 2:
            raise FileRejected(
                "unreadable_workbook", f"{file.source_file}: not a workbook, and not a table of delimited text"
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


def validate_location(file: LandingFile, known_forms: dict[str, str], committees: set[str]) -> None:
    """Reject a file whose folder names an unknown form, a period of the wrong shape or a foreign committee."""
    if file.form_code not in known_forms:
        raise FileRejected("unknown_form", f"{file.source_file}: form '{file.form_code}' is not in the catalog")
    frequency = known_forms[file.form_code]
    pattern = PERIOD_PATTERNS.get(frequency)
    if pattern and not pattern.fullmatch(file.period):
        raise FileRejected(
            "bad_period", f"{file.source_file}: period '{file.period}' does not fit a {frequency} form"
        )
    if file.committee_code is not None:
        if not file.committee_code.startswith(file.district_code):
            raise FileRejected(
                "foreign_committee",
                f"{file.source_file}: committee {file.committee_code} is not in district {file.district_code}",
            )
        if file.committee_code not in committees:
            raise FileRejected(
                "unknown_committee", f"{file.source_file}: committee code {file.committee_code} is not a known division"
            )
