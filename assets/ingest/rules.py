"""Ingestion rules read from YAML at run time: delivery rules and layout rules.

- `schemas/ingest/delivery.yaml` (DeliveryRules): what is a delivery, period shapes, correction names,
  committee name endings. Staff invent new ways to name a corrected file or a period folder; adding one is a
  YAML edit, not a code change.
- `schemas/ingest/layout.yaml` (LayoutRules): header search, label lists, row and sheet patterns.

Both are validated on load (a bad entry names the file and itself) and read at first use, never at import time.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from functools import cached_property
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from assets.common.paths import SCHEMAS_DIR

DELIVERY_RULES = SCHEMAS_DIR / "ingest" / "delivery.yaml"
FREQUENCIES = ("monthly", "quarterly", "annual", "adhoc")
_SEPARATORS = r"[\s_\-·.+、，,]"
_OPEN = r"[【\[(（《]"
_CLOSE = r"[】\])）》]"


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression {pattern!r}: {exc}") from exc
    return pattern


class Ignored(BaseModel):
    model_config = ConfigDict(extra="forbid")
    names: list[str]
    prefixes: list[str]
    suffixes: list[str]
    stems: list[str]


class CorrectionWord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pattern: str
    rank: int = Field(ge=1)

    _check = field_validator("pattern")(_compiles)


class Corrections(BaseModel):
    model_config = ConfigDict(extra="forbid")
    words: list[CorrectionWord]
    numbered: str
    copies: str

    _check = field_validator("numbered", "copies")(_compiles)


class DeliveryRules(BaseModel):
    """The validated contents of delivery.yaml, with the regular expressions compiled once."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    data_suffixes: list[str]
    ignored: Ignored
    periods: dict[str, str]
    min_period_year: int = Field(ge=1900)
    corrections: Corrections
    committee_suffixes: list[str]
    committee_name_endings: list[str]
    committee_collective_words: list[str] = Field(default_factory=list)

    @field_validator("periods")
    @classmethod
    def _periods(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - set(FREQUENCIES)
        if unknown:
            raise ValueError(f"unknown frequency {sorted(unknown)}; expected {', '.join(FREQUENCIES)}")
        for pattern in value.values():
            _compiles(pattern)
        return value

    @cached_property
    def period_patterns(self) -> dict[str, re.Pattern[str]]:
        return {k: re.compile(v) for k, v in self.periods.items()}

    @cached_property
    def _mark(self) -> str:
        words = "|".join(f"(?:{w.pattern})" for w in self.corrections.words)
        numbered = re.sub(r"\(\?P<\w+>", "(?:", self.corrections.numbered)  # named groups cannot repeat
        return rf"(?:{words}|{numbered}|{self.corrections.copies})"

    @cached_property
    def mark_suffix(self) -> re.Pattern[str]:
        """One or more correction/copy marks at the end of a stem (after a separator or in brackets)."""
        one = rf"(?:{_SEPARATORS}*{_OPEN}?\s*{self._mark}\s*{_CLOSE}?|{_OPEN}\s*{self._mark}\s*{_CLOSE})"
        return re.compile(rf"(?:{one})+{_SEPARATORS}*$", re.IGNORECASE)

    @cached_property
    def mark_prefix(self) -> re.Pattern[str]:
        """One or more marks at the start of a stem, followed by a separator or in brackets."""
        one = rf"(?:{_OPEN}\s*{self._mark}\s*{_CLOSE}|{self._mark}(?={_SEPARATORS}|{_OPEN}|\d))"
        return re.compile(rf"^(?:{one}{_SEPARATORS}*)+", re.IGNORECASE)

    @cached_property
    def word_patterns(self) -> list[tuple[re.Pattern[str], int]]:
        return [(re.compile(w.pattern, re.IGNORECASE), w.rank) for w in self.corrections.words]

    @cached_property
    def numbered_pattern(self) -> re.Pattern[str]:
        return re.compile(self.corrections.numbered, re.IGNORECASE)

    @cached_property
    def copy_pattern(self) -> re.Pattern[str]:
        return re.compile(self.corrections.copies, re.IGNORECASE)

    def split_marks(self, stem: str) -> tuple[str, int, bool]:
        """(stem without marks, correction rank, is a copy). Rank: the best word's rank plus a number mark."""
        marks: list[str] = []
        core = stem
        for pattern in (self.mark_suffix, self.mark_prefix):
            match = pattern.search(core)
            if match and match.group(0).strip() and match.end() - match.start() < len(core):
                marks.append(match.group(0))
                core = core[: match.start()] + core[match.end() :]
        text = " ".join(marks)
        rank = max((r for p, r in self.word_patterns if p.search(text)), default=0)
        is_copy = bool(self.copy_pattern.search(text))
        for m in self.numbered_pattern.finditer(text if not is_copy else ""):  # 副本 (2) is a second copy
            number = next((g for g in m.groups() if g), None)
            if number:
                rank += int(number)
        return core.strip(" _-·"), rank, is_copy

    def is_ignored(self, name: str) -> str | None:
        """Why a file name is not a delivery (None when it may be one)."""
        lower = name.lower()
        stem, _, suffix = lower.rpartition(".") if "." in lower.lstrip(".") else (lower, "", "")
        if lower in self.ignored.names:
            return "system_file"
        if any(lower.startswith(p.lower()) for p in self.ignored.prefixes):
            return "lock_or_hidden_file"
        if suffix in self.ignored.suffixes:
            return "not_a_data_file"
        if any(stem.startswith(s.lower()) for s in self.ignored.stems):
            return "notes_file"
        return None

    def committee_core(self, name: str) -> str:
        """A committee name without its kind ending: 云南中路居委会, 云南中路居委, 云南中路社区 → 云南中路."""
        text = re.sub(r"\s+", "", name)
        for suffix in sorted(self.committee_suffixes, key=len, reverse=True):
            if text.endswith(suffix) and len(text) > len(suffix):
                return text[: -len(suffix)]
        return text

    def looks_like_committee(self, token: str) -> bool:
        return any(token.endswith(e) and len(token) > len(e) for e in self.committee_name_endings)


def load_delivery_rules(path: Path | None = None) -> DeliveryRules:
    """Read and validate delivery.yaml; raises ValueError naming the file and the bad entry."""
    path = Path(path or DELIVERY_RULES)
    try:
        return DeliveryRules.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except Exception as exc:
        raise ValueError(f"{path}: invalid delivery rules: {exc}") from exc


# --- layout rules (schemas/ingest/layout.yaml) ---

LAYOUT_RULES_PATH = SCHEMAS_DIR / "ingest" / "layout.yaml"


class LayoutRulesError(ValueError):
    """schemas/ingest/layout.yaml cannot be used; the message names the file and the entry."""


def _compile(value: str) -> re.Pattern[str]:
    try:
        return re.compile(value, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"not a regular expression ({exc}): {value!r}") from exc


class HeaderRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    search_rows: int = Field(ge=1, le=200)
    max_header_rows: int = Field(ge=1, le=5)
    fuzzy_label_threshold: float = Field(ge=50, le=100)
    join: str = Field(min_length=1, max_length=3)
    child_only_penalty: float = Field(ge=0, le=50)


class RowRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    total: re.Pattern[str]
    footer: re.Pattern[str]
    notes_heading: re.Pattern[str]
    note_item: re.Pattern[str]
    page_marker: re.Pattern[str]
    bare_date: re.Pattern[str]

    @field_validator("*", mode="before")
    @classmethod
    def _pattern(cls, value: object) -> re.Pattern[str]:
        return _compile(str(value))


class SheetRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    instructions: re.Pattern[str]
    cover: re.Pattern[str]
    lookup: re.Pattern[str]

    @field_validator("*", mode="before")
    @classmethod
    def _pattern(cls, value: object) -> re.Pattern[str]:
        return _compile(str(value))


class LayoutRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    header: HeaderRules
    committee_labels: frozenset[str] = Field(min_length=1)
    township_labels: frozenset[str] = Field(min_length=1)
    serial_labels: frozenset[str] = Field(min_length=1)
    rows: RowRules
    sheets: SheetRules

    @field_validator("committee_labels", "township_labels", "serial_labels", mode="before")
    @classmethod
    def _keys(cls, value: object) -> frozenset[str]:
        """Labels are compared as layout.label_key makes them: NFKC, no whitespace."""
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise ValueError("expected a list of labels")
        keys = {"".join(unicodedata.normalize("NFKC", str(v)).split()) for v in value}
        if "" in keys:
            raise ValueError("a label is blank")
        return frozenset(keys)


@functools.lru_cache(maxsize=4)
def load_layout_rules(path: Path = LAYOUT_RULES_PATH) -> LayoutRules:
    """The validated rules; cached per path for the life of the process."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LayoutRulesError(f"{path}: cannot be read ({exc})") from exc
    try:
        return LayoutRules.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise LayoutRulesError(f"{path}: {problems}") from None
