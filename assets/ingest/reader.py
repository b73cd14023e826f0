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
import re
from dataclasses import dataclass
from pathlib import Path

from python_calamine import CalamineWorkbook

SUPPORTED_SUFFIXES = {".csv": "csv", ".xlsx": "xlsx"}
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
class ParsedFile:
    """A decoded file: every physical row with its 1-based row number."""

    encoding: str | None
    sheet: str | None
    rows: list[tuple[int, list[str]]]


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
