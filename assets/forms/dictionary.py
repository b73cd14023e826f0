"""The data-element dictionary, reviewed overrides and the forms settings, loaded and validated.

Everything the matching and the plan decide comes from these files in `schemas/`, so a reviewer changes a
synonym, an override or a threshold without touching code. Errors name the file and the offending entry.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from assets.common import paths

ElementType = Literal["text", "id_number", "date", "year_month", "phone", "sex", "integer", "decimal", "bool"]
Sharing = Literal["无条件", "有条件", "不予共享"]
Classification = Literal["internal", "personal", "sensitive_personal", "important"]
RecordKey = Literal["person_name", "id_number", "id_birth_date", "id_sex"]

DICTIONARY_PATH = paths.SCHEMAS_DIR / "data_elements.yaml"
OVERRIDES_PATH = paths.SCHEMAS_DIR / "field_overrides.yaml"
MATCHING_PATH = paths.SCHEMAS_DIR / "forms" / "matching.yaml"
PLAN_PATH = paths.SCHEMAS_DIR / "forms" / "plan.yaml"


class SchemaFileError(ValueError):
    """A schemas/ file that cannot be used; the message names the file and the entry."""


def exact_key(label: str) -> str:
    """The comparison key ingestion uses for synonyms: NFKC and no whitespace."""
    return "".join(unicodedata.normalize("NFKC", label).split())


class DataElement(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1)
    type: ElementType
    sharing: Sharing
    classification: Classification
    synonyms: list[str] = Field(default_factory=list)
    format: str | None = None
    description: str | None = None
    group: str | None = None
    record_key: RecordKey | None = None
    derivable_from: list[str] = Field(default_factory=list)

    @field_validator("synonyms")
    @classmethod
    def _no_blank_synonym(cls, value: list[str]) -> list[str]:
        if any(not exact_key(s) for s in value):
            raise ValueError("a synonym is blank")
        return value

    @property
    def labels(self) -> list[str]:
        """The name and every synonym, without duplicates, name first."""
        return list(dict.fromkeys([self.name, *self.synonyms]))


class Dictionary(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    elements: list[DataElement]

    @model_validator(mode="after")
    def _consistent(self) -> Dictionary:
        codes = [e.code for e in self.elements]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ValueError(f"duplicate element code(s): {dupes}")
        owner: dict[str, str] = {}
        for element in self.elements:
            for label in element.labels:
                key = exact_key(label)
                if owner.get(key, element.code) != element.code:
                    raise ValueError(
                        f"label {label!r} of element {element.code!r} is already a label of {owner[key]!r}"
                    )
                owner[key] = element.code
            unknown = [d for d in element.derivable_from if d not in codes or d == element.code]
            if unknown:
                raise ValueError(
                    f"element {element.code!r}: derivable_from names unknown element(s) {unknown}"
                )
        return self

    def by_code(self) -> dict[str, DataElement]:
        return {e.code: e for e in self.elements}


class Override(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    form_code: str = Field(min_length=1)
    field_label: str = Field(min_length=1)
    element_code: str | None
    reason: str = Field(min_length=1)
    reviewer: str = Field(min_length=1)
    reviewed_at: Any = None


class Overrides(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    overrides: list[Override] = Field(default_factory=list)

    def lookup(self) -> dict[tuple[str, str], Override]:
        """(form_code or '*', exact label key) → override."""
        return {(o.form_code, exact_key(o.field_label)): o for o in self.overrides}


class NormalizeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fillers: list[str] = Field(default_factory=list)
    equivalents: dict[str, str] = Field(default_factory=dict)
    strip_prefixes: list[str] = Field(default_factory=list)
    other_person_markers: list[str] = Field(default_factory=list)


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fuzzy_floor: float = Field(ge=0, le=1)
    fuzzy_support: float = Field(ge=0, le=1)
    review: float = Field(ge=0, le=1)
    ambiguity_margin: float = Field(ge=0, le=1)
    suffix_base: float = Field(ge=0, le=1)
    inner_base: float = Field(ge=0, le=1)
    type_mismatch_factor: float = Field(ge=0, le=1)


class ProfileSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min_values: int = Field(ge=1)
    id_pass_rate: float = Field(ge=0, le=1)
    phone_rate: float = Field(ge=0, le=1)
    date_rate: float = Field(ge=0, le=1)
    sex_rate: float = Field(ge=0, le=1)
    self_agreement: float = Field(ge=0, le=1)
    other_person_agreement: float = Field(ge=0, le=1)
    strong: float = Field(ge=0, le=1)


class MatchingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    normalize: NormalizeSettings
    thresholds: Thresholds
    profile: ProfileSettings


class PrefillSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min_coverage: float = Field(ge=0, le=1)
    reuse_own_earlier_periods: bool = False
    person_key: Literal["auto", "person_records", "id_number"] = "auto"


class MergeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    jaccard_min: float = Field(gt=0, le=1)
    allow_subset: bool = True
    same_frequency: bool = True
    same_target: bool = True


class PlanSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    frequency: dict[Literal["monthly", "quarterly", "annual", "adhoc"], float | Literal["observed"]]
    prefill: PrefillSettings
    merge: MergeSettings

    @model_validator(mode="after")
    def _all_frequencies(self) -> PlanSettings:
        missing = {"monthly", "quarterly", "annual", "adhoc"} - set(self.frequency)
        if missing:
            raise ValueError(f"frequency: missing {sorted(missing)}")
        return self


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SchemaFileError(f"{path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise SchemaFileError(f"{path}: not valid YAML: {exc}") from exc


def _describe(path: Path, raw: Any, exc: ValidationError) -> str:
    """Name the file and, for list entries, the entry's code/label, for each error."""
    lines = [f"{path}: {exc.error_count()} problem(s)"]
    for err in exc.errors():
        loc = list(err["loc"])
        where = ".".join(str(p) for p in loc)
        entry = ""
        if len(loc) >= 2 and isinstance(loc[1], int) and isinstance(raw, dict):
            items = raw.get(str(loc[0])) or []
            if isinstance(items, list) and loc[1] < len(items) and isinstance(items[loc[1]], dict):
                item = items[loc[1]]
                ident = item.get("code") or f"{item.get('form_code')}/{item.get('field_label')}"
                entry = f" (entry {ident!r})"
        lines.append(f"  {where}{entry}: {err['msg']}")
    return "\n".join(lines)


def _load(model: type[BaseModel], path: Path) -> Any:
    raw = _read_yaml(path)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise SchemaFileError(_describe(path, raw, exc)) from None


def load_dictionary(path: Path = DICTIONARY_PATH) -> Dictionary:
    return _load(Dictionary, path)


def load_overrides(dictionary: Dictionary, path: Path = OVERRIDES_PATH) -> Overrides:
    """Load the reviewed overrides; every element_code must exist in the dictionary."""
    overrides: Overrides = _load(Overrides, path)
    codes = dictionary.by_code()
    seen: set[tuple[str, str]] = set()
    for o in overrides.overrides:
        if o.element_code is not None and o.element_code not in codes:
            raise SchemaFileError(
                f"{path}: override {o.form_code}/{o.field_label}: unknown element_code {o.element_code!r}"
            )
        key = (o.form_code, exact_key(o.field_label))
        if key in seen:
            raise SchemaFileError(f"{path}: override {o.form_code}/{o.field_label} is listed twice")
        seen.add(key)
    return overrides


def load_matching_settings(path: Path = MATCHING_PATH) -> MatchingSettings:
    return _load(MatchingSettings, path)


def load_plan_settings(path: Path = PLAN_PATH) -> PlanSettings:
    return _load(PlanSettings, path)
