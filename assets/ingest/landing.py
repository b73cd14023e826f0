"""The landing zone as staff fill it: which files are deliveries, where they belong, what their names say.

Every file under the landing root ends up in exactly one list: a candidate delivery (`LandingFile`), a file
in the wrong place (`MisplacedFile`, rejected with a reason), or a file that is no delivery at all (ignored:
Thumbs.db, lock files, a scanned PDF of the signed form). Nothing is dropped silently. Folder and file-name
conventions (periods, correction marks, ignored names) come from schemas/ingest/delivery.yaml.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from assets.ingest.rules import DeliveryRules, load_delivery_rules

log = logging.getLogger(__name__)

CATALOG_DIR = "catalog"
COMMITTEE_CODE = re.compile(r"(?<!\d)(\d{12})(?!\d)")
DISTRICT_DIR = re.compile(r"^(?P<code>\d{6})?[\s_\-·]*(?P<name>[^\d]*)$")
NAME_TOKENS = re.compile(r"[\s_\-·、，,.（）()【】\[\]]+")


class FileRejected(Exception):
    """A file that cannot be used at all; `reason_code` is machine-readable."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message


@dataclass(frozen=True)
class LandingFile:
    """One delivered file and what its place and name in the landing zone say about it."""

    path: Path
    source_file: str  # relative to the landing root, posix
    district_code: str
    form_code: str
    period: str
    committee_code: str | None  # None: a district-wide file with a committee column
    file_format: str
    size_bytes: int
    modified_at: float
    correction_rank: int = 0  # 0 for an original; higher for 更正 / v2 / 最终版 … (delivery.yaml)
    is_copy: bool = False  # "名册 - 副本.xlsx": a hand-made copy, no correction
    committee_name: str | None = None  # a committee named in the file name, to be resolved by name

    @property
    def delivery_key(self) -> tuple[str, str, str, str]:
        """Files with the same key are deliveries of the same report; only the newest counts."""
        return (self.district_code, self.form_code, self.period, self.committee_code or "*")


@dataclass
class MisplacedFile:
    """A file under the landing root that is not a candidate delivery, with the reason."""

    path: Path
    source_file: str
    district_code: str | None
    reason_code: str
    message: str
    status: str = "rejected"  # rejected | ignored


@dataclass
class Scan:
    """Everything found under (part of) the landing root."""

    files: list[LandingFile] = field(default_factory=list)
    misplaced: list[MisplacedFile] = field(default_factory=list)  # rejected: wrong place
    ignored: list[MisplacedFile] = field(default_factory=list)  # no delivery


def _walk(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def district_folders(
    root: Path, districts: Mapping[str, str] | None, rules: DeliveryRules
) -> tuple[dict[str, list[Path]], list[MisplacedFile]]:
    """Top-level folders → district code (`310101`, `310101黄浦区`, `310101_黄浦区`, `黄浦区`); the rest reported.

    `districts` maps code → name (None: accept any 6-digit folder). A folder that names no known district, or
    whose code and name disagree, is reported file by file (or as a folder when it is empty); loose files at
    the root are misplaced. catalog/ belongs to the form catalog and is not scanned here.
    """
    by_name = {name: code for code, name in (districts or {}).items()}
    by_name.update(
        {name.removesuffix("区"): code for code, name in (districts or {}).items() if len(name) > 2}
    )
    found: dict[str, list[Path]] = {}
    reported: list[MisplacedFile] = []
    for entry in sorted(Path(root).iterdir()):
        rel = entry.name
        if entry.is_file():
            if rules.is_ignored(entry.name):
                reported.append(MisplacedFile(entry, rel, None, rules.is_ignored(entry.name) or "", f"{rel}: not a "
                                              "delivery", "ignored"))  # fmt: skip
            else:
                reported.append(MisplacedFile(entry, rel, None, "bad_location", f"{rel}: a file at the landing root; "
                                              "expected <district>/<form>/<period>/<file>"))  # fmt: skip
            continue
        if entry.name == CATALOG_DIR:
            continue
        code, problem = _district_of(entry.name, districts, by_name)
        if code:
            found.setdefault(code, []).append(entry)
            continue
        files = _walk(entry)
        reason, message = problem
        for path in files or [entry]:
            sub = path.relative_to(root).as_posix() + ("/" if path.is_dir() else "")
            ignored = path.is_file() and rules.is_ignored(path.name)
            reported.append(MisplacedFile(path, sub, None, ignored or reason, f"{sub}: {message}",
                                          "ignored" if ignored else "rejected"))  # fmt: skip
    return found, reported


def _district_of(
    name: str, districts: Mapping[str, str] | None, by_name: Mapping[str, str]
) -> tuple[str | None, tuple[str, str]]:
    match = DISTRICT_DIR.fullmatch(name.strip())
    if not match:
        return None, (
            "unknown_district_folder",
            f"folder '{name}' names no district (6-digit code or 区 name)",
        )
    code, label = match.group("code"), match.group("name").strip()
    if districts is None:
        if code and not label:
            return code, ("", "")
        return None, ("unknown_district_folder", f"folder '{name}' is not a 6-digit district code")
    if code:
        if code not in districts:
            return None, ("unknown_district", f"folder '{name}': {code} is not a district code")
        if label and by_name.get(label) != code:
            return None, ("district_name_mismatch",
                          f"folder '{name}': code {code} is {districts[code]}, not '{label}'")  # fmt: skip
        return code, ("", "")
    if label in by_name:
        return by_name[label], ("", "")
    return None, ("unknown_district_folder", f"folder '{name}' names no district (6-digit code or 区 name)")


def scan_landing(
    root: Path,
    district_code: str | None = None,
    districts: Mapping[str, str] | None = None,
    rules: DeliveryRules | None = None,
) -> tuple[Scan, list[MisplacedFile]]:
    """(what belongs to the district(s), what belongs to no district) under `root`, sorted by path."""
    rules = rules or load_delivery_rules()
    root = Path(root)
    folders, unplaced = district_folders(root, districts, rules)
    scan = Scan()
    for code in [district_code] if district_code else sorted(folders):
        for folder in folders.get(code or "", []):
            for path in _walk(folder):
                _classify(scan, root, path, code or "", rules)
    for part in (scan.files, scan.misplaced, scan.ignored):
        part.sort(key=lambda f: f.source_file)
    return scan, unplaced


def _classify(scan: Scan, root: Path, path: Path, district_code: str, rules: DeliveryRules) -> None:
    rel = path.relative_to(root).as_posix()
    parts = rel.split("/")
    reason = rules.is_ignored(path.name)
    if reason:
        scan.ignored.append(
            MisplacedFile(path, rel, district_code, reason, f"{rel}: not a delivery", "ignored")
        )
        return
    if len(parts) != 4:
        scan.misplaced.append(MisplacedFile(path, rel, district_code, "bad_location",
                                            f"{rel}: expected <district>/<form>/<period>/<file>, got {len(parts)} "
                                            "levels"))  # fmt: skip
        return
    stat = path.stat()
    stem, _, suffix = path.name.rpartition(".") if "." in path.name else (path.name, "", "")
    core, rank, is_copy = rules.split_marks(stem)
    code = COMMITTEE_CODE.search(core)
    named = None
    if code is None:
        named = next((t for t in NAME_TOKENS.split(core) if t and rules.committee_core(t) != t), None)
    scan.files.append(
        LandingFile(
            path=path,
            source_file=rel,
            district_code=district_code,
            form_code=parts[1],
            period=parts[2],
            committee_code=code.group(1) if code else None,
            file_format=suffix.lower() or "none",
            size_bytes=stat.st_size,
            modified_at=stat.st_mtime,
            correction_rank=rank,
            is_copy=is_copy,
            committee_name=named,
        )  # fmt: skip
    )


def discover(root: Path, district_code: str | None = None) -> tuple[list[LandingFile], list[MisplacedFile]]:
    """Candidate deliveries and misplaced files under `root` (6-digit district folders; ignored files left out)."""
    scan, _ = scan_landing(root, district_code)
    return scan.files, scan.misplaced


def ranking(file: LandingFile) -> tuple[int, int, int, str]:
    """Order of precedence among deliveries of one report: declared correction, then the committee's own file
    over a roll-up, then modification time (a copy or checkout can reset it), then the name."""
    return (
        file.correction_rank,
        int(file.committee_code is not None),
        int(file.modified_at),
        file.source_file,
    )


def current_deliveries(files: list[LandingFile]) -> tuple[list[LandingFile], dict[str, LandingFile]]:
    """Split deliveries by name into the current file per report and the ones a correction replaced.

    Name-only view (district-wide files all share one key here); ingestion uses `assets.ingest.delivery`,
    which also looks at content (identical bytes, the committees a district-wide file carries).
    """
    by_key: dict[tuple[str, str, str, str], list[LandingFile]] = {}
    for f in files:
        by_key.setdefault(f.delivery_key, []).append(f)
    current: list[LandingFile] = []
    superseded: dict[str, LandingFile] = {}
    for group in by_key.values():
        group.sort(key=ranking)
        current.append(group[-1])
        for loser in group[:-1]:
            superseded[loser.source_file] = group[-1]
    current.sort(key=lambda f: f.source_file)
    return current, superseded


def period_problem(
    period: str, frequency: str, rules: DeliveryRules, as_of: dt.date | None = None
) -> str | None:
    """Why a period folder is impossible for a form of `frequency` (None when it is a real period).

    With `as_of` (the run date), a period that starts after it is impossible too (2027-10 for 2026-10).
    """
    pattern = rules.period_patterns.get(frequency)
    if pattern is None:
        return None
    match = pattern.fullmatch(period)
    if not match:
        return f"period '{period}' does not fit a {frequency} form"
    parts = match.groupdict()
    year = int(parts["year"])
    if year < rules.min_period_year:
        return f"period '{period}': year {year} is before {rules.min_period_year}"
    month = int(parts.get("month") or 0) or 3 * int(parts.get("quarter") or 1) - 2
    if not 1 <= month <= 12:
        return f"period '{period}' has no month {month}"
    try:
        start = dt.date(year, month, int(parts.get("day") or 1))
    except ValueError:
        return f"period '{period}' is not a real date"
    if as_of is not None and start > as_of:
        return f"period '{period}' starts after the run date {as_of.isoformat()}"
    return None


def validate_location(
    file: LandingFile,
    known_forms: dict[str, str],
    committees: set[str],
    rules: DeliveryRules | None = None,
    as_of: dt.date | None = None,
) -> None:
    """Reject a file whose folder names an unknown form, an impossible period or a foreign committee."""
    if file.form_code not in known_forms:
        raise FileRejected(
            "unknown_form", f"{file.source_file}: form '{file.form_code}' is not in the catalog"
        )
    problem = period_problem(file.period, known_forms[file.form_code], rules or load_delivery_rules(), as_of)
    if problem:
        raise FileRejected("bad_period", f"{file.source_file}: {problem}")
    if file.committee_code is not None:
        if not file.committee_code.startswith(file.district_code):
            raise FileRejected(
                "foreign_committee",
                f"{file.source_file}: committee {file.committee_code} is not in district {file.district_code}",
            )
        if file.committee_code not in committees:
            raise FileRejected(
                "unknown_committee",
                f"{file.source_file}: committee code {file.committee_code} is not a known division",
            )


def resolve_committee_name(
    file: LandingFile, by_core: Mapping[tuple[str, str], list[str]], rules: DeliveryRules
) -> LandingFile:
    """A file named by its committee's name (云南中路居委_名册.xlsx) gets that committee's code.

    Names resolve on their core (X居委会 = X居委 = X居民委员会 = X社区). A name that clearly means a committee
    (居委会 / 居委 / 居民委员会 …) but matches none, or several, rejects the file; a token ending only in 社区
    or 村 that matches nothing is read as part of a form name and the file stays district-wide.
    """
    if file.committee_code is not None:
        return file
    if (
        not file.committee_name
        or rules.committee_core(file.committee_name) in rules.committee_collective_words
    ):
        prefixed = _committee_prefix(file, by_core, rules)
        return prefixed if prefixed is not None else replace(file, committee_name=None)
    token = file.committee_name
    codes = by_core.get((file.district_code, rules.committee_core(token)), [])
    if len(codes) == 1:
        return replace(file, committee_code=codes[0])
    if len(codes) > 1:
        raise FileRejected("ambiguous_committee_name", f"{file.source_file}: committee name '{token}' matches "
                           f"{len(codes)} committees in district {file.district_code} ({', '.join(sorted(codes))})")  # fmt: skip
    if rules.looks_like_committee(token):
        raise FileRejected("unknown_committee_name",
                           f"{file.source_file}: the file name names committee '{token}', which is not a committee "
                           f"of district {file.district_code}")  # fmt: skip
    return replace(file, committee_name=None)


def _committee_prefix(
    file: LandingFile, by_core: Mapping[tuple[str, str], list[str]], rules: DeliveryRules
) -> LandingFile | None:
    """A file name that starts with a known committee name and runs on into the form name, with no separator
    (西一居委高龄补贴名册.csv): the longest prefix that is a committee name (core + 居委 / 居委会 / 社区 …) of the
    district names the file. None when no prefix is one; several committees of that name reject the file."""
    stem = path_stem(file.source_file)
    core = rules.split_marks(stem)[0]
    first = next((t for t in NAME_TOKENS.split(core) if t), "")
    for k in range(len(first) - 1, 1, -1):
        prefix = first[:k]
        name_core = rules.committee_core(prefix)
        if name_core == prefix or name_core in rules.committee_collective_words:
            continue  # no committee ending, or 各居委 / 分居委
        codes = by_core.get((file.district_code, name_core), [])
        if len(codes) == 1:
            return replace(file, committee_code=codes[0], committee_name=prefix)
        if len(codes) > 1:
            raise FileRejected("ambiguous_committee_name", f"{file.source_file}: committee name '{prefix}' matches "
                               f"{len(codes)} committees in district {file.district_code} ({', '.join(sorted(codes))})")  # fmt: skip
    return None


def path_stem(source_file: str) -> str:
    name = source_file.rsplit("/", 1)[-1]
    return name.rpartition(".")[0] if "." in name else name
