"""Layout rules of ingestion (schemas/ingest/layout.yaml): header search, label lists, row and sheet patterns.

Loaded and validated at run time (first use), never at import time, so a reviewer changes a label or a
pattern without touching code; a broken file fails with its path and the offending entry.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from assets.common import paths

LAYOUT_RULES_PATH = paths.SCHEMAS_DIR / "ingest" / "layout.yaml"


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
        import unicodedata

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
