"""What a delivery case plants and what must come out of it, plus the registry of cases.

Expectations are derived only from what was planted and from the text of issue 8 and docs/CONTRACTS.md.
Where the contract does not fix a name (a reason code, a flag name), the expectation is about behaviour
(rejected with some reason; flagged with some flag; the raw text kept) rather than an exact code.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .people import Committee, Person, committees, person

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"

ANY = object()  # "do not check"


@dataclass
class ValueExp:
    """Expectation on one staged value (staging.form_values of the row, found by catalog label)."""

    label: str
    equals: str | None = None  # normalized value must equal this
    prefix: str | None = None  # normalized value, when not null, must start with this
    not_prefix: str | None = None  # normalized value must not start with this (e.g. a 1905 mis-parse)
    flagged: bool | None = None  # value_flag must be set (True) / unset (False)
    raw_contains: str | None = None  # value_raw must contain this


@dataclass
class RowExp:
    """One planted data row, found by its unique person name in the file it was planted in.

    fate: staged (exactly once in staging.form_records, not in quarantine) | quarantined (the reverse) |
    kept (exactly once in one of the two) | not_staged (nothing of it staged from this file: superseded,
    duplicate or rejected file)."""

    file: str
    name: str
    fate: str = "staged"
    sheet: str | None = None
    row_number: int | None = None
    committee: str | None = None
    id_valid: bool | None = None  # True: id_status valid with the planted ID; False: never staged valid
    id_raw: str | None = None  # the damaged text must be kept (id_number_raw, a value_raw or raw_row)
    flagged: bool | None = None  # True: a flag on the record or one of its values; False: clean
    wrong_if_unflagged: bool = (
        True  # a missing flag means a wrong value got through (not just a missing note)
    )
    values: list[ValueExp] = field(default_factory=list)


@dataclass
class FileExp:
    """Expectation on one delivered file's row of raw.landing_files."""

    path: str
    status: tuple[str, ...] = ("ingested",)
    staged: int | None = None
    quarantined: int | None = None
    min_skipped: int | None = None
    reason: bool = False  # reason_code must be set
    reason_words: tuple[str, ...] = ()  # one of these must occur in reason_code or message
    committee: object = ANY  # landing_files.committee_code
    district: object = ANY  # landing_files.district_code


@dataclass
class SkipExp:
    """A planted non-data line: recorded in raw.skipped_rows of its file, never staged or quarantined."""

    file: str
    text: str
    sheet: str | None = None


@dataclass
class Case:
    """One delivery habit: the files written and everything expected of them."""

    key: str
    desc: str
    files: list[FileExp] = field(default_factory=list)
    rows: list[RowExp] = field(default_factory=list)
    skips: list[SkipExp] = field(default_factory=list)
    ignored_sheets: list[tuple[str, str]] = field(default_factory=list)  # (file, sheet) not read as data
    staged_once: list[str] = field(default_factory=list)  # names that must be staged exactly once overall
    extra: list[Callable[[object], list[str]]] = field(default_factory=list)  # con -> failure messages


@dataclass
class Ctx:
    """What a case builder gets: where to write, its committee, its people, its folder."""

    landing: Path
    number: int

    @property
    def committee(self) -> Committee:
        return committees()[self.number]

    def other_committee(self, k: int) -> Committee:
        """Extra committees for multi-committee cases: a pool (indices 100+) no case uses as its own."""
        return committees()[100 + 3 * (self.number % 23) + k]

    def people(self, n: int, start: int = 0) -> list[Person]:
        return [person(self.number * 50 + start + i) for i in range(n)]

    def period(self, frequency: str) -> str:
        """A period no other case uses for the same form (monthly back from 2026-10, etc.)."""
        n = self.number
        if frequency == "monthly":
            y, m = divmod(2026 * 12 + 9 - n, 12)
            return f"{y}-{m + 1:02d}"
        if frequency == "quarterly":
            y, q = divmod(2026 * 4 + 2 - n, 4)
            return f"{y}Q{q + 1}"
        if frequency == "annual":
            # Years stay within the contract's plausible periods (delivery.yaml min_period_year: 2000); 2025 - n
            # reached 1996 for case 29 and was refused as bad_period. One case per form still gets its own year.
            return str(2025 - n % 25)
        return f"2026-{1 + n % 10:02d}-{1 + n % 28:02d}"

    def folder(self, form: str, frequency: str, district: str = "310101") -> str:
        return f"{district}/{form}/{self.period(frequency)}"

    def path(self, rel: str) -> Path:
        p = self.landing / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def copy_fixture(self, name: str, rel: str) -> None:
        shutil.copyfile(FIXTURES / name, self.path(rel))


CaseFn = Callable[[Ctx], Case]
REGISTRY: dict[int, tuple[str, CaseFn]] = {}


def case(number: int, key: str) -> Callable[[CaseFn], CaseFn]:
    """Register a case builder under a fixed number (fixes its committee, people and period)."""

    def deco(fn: CaseFn) -> CaseFn:
        assert number not in REGISTRY, f"case number {number} used twice"
        assert number < 94, "person blocks of 50 must stay below 4,700"
        REGISTRY[number] = (key, fn)
        return fn

    return deco
