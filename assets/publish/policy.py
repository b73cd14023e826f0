"""Tiered, classified access policy (分级分类) as data: load, validate, version and resolve.

DuckDB has no users, GRANT, row filters or column masks, so the policy is enforced when each tier's
product is built. This module only decides; `products.py` applies the decisions.

Policy files (schemas/policy/):
- policy.yaml      classification levels, purposes, the small-cell threshold
- rules.yaml       ordered rules (tier, classification, sharing, purpose, department) -> treatment
- principals.yaml  which principals get a product (tier + jurisdiction + department + purpose)
- datasets.yaml    what may be published: source, sharing category, jurisdiction column, column classes
plus the data-element dictionary schemas/data_elements.yaml (classification and sharing per element).

Deny by default: a column without a classification, a dataset without a sharing category, a
(principal, column) without a matching rule, and anything 不予共享 resolve to `deny`, with the reason.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

POLICY_FILES = ("policy.yaml", "rules.yaml", "principals.yaml", "datasets.yaml")


class PolicyError(ValueError):
    """A policy file is malformed; the message names the file and the offending entry."""


class Tier(StrEnum):
    CITY = "市"
    DISTRICT = "区"
    TOWNSHIP = "街镇"
    COMMITTEE = "居村"


TIER_DIGITS: dict[Tier, int] = {Tier.CITY: 2, Tier.DISTRICT: 6, Tier.TOWNSHIP: 9, Tier.COMMITTEE: 12}
TIER_CODES: dict[Tier, str] = {
    Tier.CITY: "city",
    Tier.DISTRICT: "district",
    Tier.TOWNSHIP: "township",
    Tier.COMMITTEE: "committee",
}
TIER_BY_NAME: dict[str, Tier] = {**{t.value: t for t in Tier}, **{c: t for t, c in TIER_CODES.items()}}


class Sharing(StrEnum):
    UNCONDITIONAL = "无条件"
    CONDITIONAL = "有条件"
    NOT_SHARED = "不予共享"


SHARING_STRICTNESS = {Sharing.UNCONDITIONAL: 0, Sharing.CONDITIONAL: 1, Sharing.NOT_SHARED: 2}

# What a rule may decide. `deny` is never written in a rule: it is the default when nothing matches.
RULE_ACTIONS = ("show", "partial", "keyed_hash", "year_only", "nullify", "aggregate", "hide")
VISIBLE_ACTIONS = frozenset({"show", "partial", "keyed_hash", "year_only", "nullify"})
Action = Literal["show", "partial", "keyed_hash", "year_only", "nullify", "aggregate", "hide"]

# The kind of value a column holds: decides which masks apply and what the leak scan looks for.
SEMANTICS = ("name", "id_number", "phone", "address", "date", "sex", "text", "code", "number", "bool")
Semantic = Literal["name", "id_number", "phone", "address", "date", "sex", "text", "code", "number", "bool"]
MASK_APPLIES: dict[str, frozenset[str]] = {
    "partial": frozenset({"name", "id_number", "phone", "address"}),
    "year_only": frozenset({"date"}),
}

_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
_CLASS = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
_QUALIFIED = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")


def sharing_of(*values: Sharing | None) -> Sharing | None:
    """The strictest of the given sharing categories (None when all are None)."""
    present = [v for v in values if v is not None]
    return max(present, key=SHARING_STRICTNESS.__getitem__) if present else None


# ----------------------------------------------------------------------------------------------- models


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PolicySettings(_Strict):
    """policy.yaml: the vocabulary every other file is checked against."""

    version: int | str
    name: str = "jianfu"
    classifications: dict[str, str] = Field(min_length=1)
    purposes: dict[str, str] = Field(default_factory=dict)
    departments: list[str] | None = None
    min_cell: int = Field(default=5, ge=2)

    @field_validator("classifications")
    @classmethod
    def _levels_are_identifiers(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [k for k in value if not _IDENT.match(k)]
        if bad:
            raise ValueError(f"classification levels must be lower_snake identifiers: {bad}")
        return value


class Rule(_Strict):
    """One row of the access table; rules are read top to bottom and the first match decides."""

    id: str
    classifications: list[str] = Field(min_length=1)
    treatment: Action
    tiers: list[Tier] | None = None
    sharing: list[Sharing] | None = None
    purposes: list[str] | None = None
    departments: list[str] | None = None
    datasets: list[str] | None = None
    note: str | None = None

    @field_validator("classifications")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        bad = [p for p in value if p != "*" and not _CLASS.match(p)]
        if bad:
            raise ValueError(f"not a classification pattern (level[.sub…] or '*'): {bad}")
        return value

    @field_validator("sharing")
    @classmethod
    def _never_not_shared(cls, value: list[Sharing] | None) -> list[Sharing] | None:
        if value and Sharing.NOT_SHARED in value:
            raise ValueError("不予共享 data never leaves the warehouse: no rule may match it")
        return value

    def matches(self, principal: Principal, dataset: str, classification: str, sharing: Sharing) -> bool:
        if self.tiers is not None and principal.tier not in self.tiers:
            return False
        if self.sharing is not None and sharing not in self.sharing:
            return False
        if self.purposes is not None and principal.purpose not in self.purposes:
            return False
        if self.departments is not None and principal.department not in self.departments:
            return False
        if self.datasets is not None and dataset not in self.datasets:
            return False
        return any(class_matches(p, classification) for p in self.classifications)


def class_matches(pattern: str, classification: str) -> bool:
    """`personal` matches `personal` and `personal.phone`; `*` matches any classified column."""
    return pattern == "*" or classification == pattern or classification.startswith(pattern + ".")


class ColumnSpec(_Strict):
    """How one source column is classified.

    Exactly one of: `classification` (a dotted class such as `personal.phone`), `element` (a code of
    the data-element dictionary; the element gives class and sharing), `element_from` (the name of a
    source column holding, per row, the element code: for long tables such as form values). An
    entry with none of them is an explicit 'not classified': it is denied like an absent entry.
    """

    classification: str | None = None
    element: str | None = None
    element_from: str | None = None
    semantic: Semantic | None = None
    sharing: Sharing | None = None
    aggregate_dimension: bool = True
    note: str | None = None

    @model_validator(mode="after")
    def _one_source_of_class(self) -> ColumnSpec:
        given = [k for k in ("classification", "element", "element_from") if getattr(self, k)]
        if len(given) > 1:
            raise ValueError(f"give only one of classification / element / element_from, not {given}")
        if self.classification and not _CLASS.match(self.classification):
            raise ValueError(f"not a classification: {self.classification!r}")
        return self


class Source(_Strict):
    table: str | None = None
    sql: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Source:
        if (self.table is None) == (self.sql is None):
            raise ValueError("a source is either `table: schema.name` or `sql: SELECT …`")
        if self.table is not None and not _QUALIFIED.match(self.table):
            raise ValueError(f"table must be schema.name in lower case: {self.table!r}")
        return self

    @property
    def select_sql(self) -> str:
        return f"SELECT * FROM {self.table}" if self.table else str(self.sql).strip().rstrip(";")

    @property
    def label(self) -> str:
        return self.table or "sql"


class AggregateSpec(_Strict):
    """Aggregate-only form: counts grouped by `by` (+ the aggregate-only columns), small cells dropped."""

    by: list[str] = Field(default_factory=list)
    jurisdiction_digits: Literal[2, 6, 9, 12] = 9


class Dataset(_Strict):
    name: str
    description: str = ""
    sources: list[Source] = Field(min_length=1)
    sharing: Sharing | None = None
    jurisdiction: str | None = None
    jurisdiction_digits: Literal[6, 9, 12] = 12  # a township-level mart: 9 (committees then get none of it)
    reference: bool = False
    aggregate: AggregateSpec | None = None
    columns: dict[str, ColumnSpec | None] = Field(default_factory=dict)

    @field_validator("columns", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # `column: internal` is shorthand for `column: {classification: internal}`.
        if isinstance(value, Mapping):
            return {k: ({"classification": v} if isinstance(v, str) else v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Dataset:
        if not _IDENT.match(self.name) or self.name.endswith("_counts"):
            raise ValueError(f"dataset name must be lower_snake ASCII and not end in _counts: {self.name!r}")
        if self.jurisdiction is None and not self.reference:
            raise ValueError("a dataset without a jurisdiction column must be `reference: true`")
        if self.jurisdiction is not None:
            spec = self.columns.get(self.jurisdiction)
            if spec is None or spec.classification is None:
                raise ValueError(
                    f"jurisdiction column {self.jurisdiction!r} must be listed with a classification"
                )
        drivers = {s.element_from for s in self.columns.values() if s and s.element_from}
        if len(drivers) > 1:
            raise ValueError(f"at most one element_from driver column per dataset, got {sorted(drivers)}")
        for driver in drivers:
            spec = self.columns.get(driver)
            if spec is None or spec.classification is None:
                raise ValueError(f"element_from column {driver!r} must be listed with a classification")
        if self.aggregate:
            missing = [c for c in self.aggregate.by if c not in self.columns]
            if missing:
                raise ValueError(f"aggregate.by names unlisted columns: {missing}")
            if self.jurisdiction is None or self.jurisdiction_digits != 12:
                raise ValueError("an aggregate needs a 12-digit jurisdiction column")
        return self

    @property
    def driver(self) -> str | None:
        """The column holding each row's data-element code, if the dataset is a long table."""
        return next((s.element_from for s in self.columns.values() if s and s.element_from), None)


class LeakTokenSource(_Strict):
    """Extra clear values the leak scan looks for (e.g. IDs typed in fields no element matched)."""

    kind: Literal["id_number", "phone", "name"]
    sql: str


class DatasetsFile(_Strict):
    version: int | str = 1
    datasets: list[Dataset]
    leak_tokens: list[LeakTokenSource] = Field(default_factory=list)


class PrincipalSet(_Strict):
    """A family of principals: one per jurisdiction of `tier` (`present`: every division with data)."""

    id: str
    tier: Tier
    jurisdictions: Literal["present", "all"] | list[str] = "present"
    department: str | None = None
    purpose: str | None = None
    suffix: str | None = None
    encrypt: bool = False
    enabled: bool = True

    @model_validator(mode="after")
    def _valid(self) -> PrincipalSet:
        if self.suffix is not None and not _IDENT.match(self.suffix.replace("-", "_")):
            raise ValueError(f"suffix must be ASCII lower-case: {self.suffix!r}")
        if isinstance(self.jurisdictions, list):
            digits = TIER_DIGITS[self.tier]
            bad = [j for j in self.jurisdictions if not (j.isdigit() and len(j) == digits)]
            if bad:
                raise ValueError(f"jurisdictions of tier {self.tier.value} are {digits}-digit codes: {bad}")
        return self


class Element(BaseModel):
    """One entry of schemas/data_elements.yaml (other fields are ignored here)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    code: str
    name: str = ""
    type: str = "text"
    sharing: Sharing | None = None
    classification: str | None = None
    category: str | None = None
    semantic: Semantic | None = None

    @property
    def value_semantic(self) -> str:
        """What kind of value the element holds, for masking and the leak scan."""
        if self.semantic:
            return self.semantic
        by_type = {
            "id_number": "id_number",
            "phone": "phone",
            "date": "date",
            "year_month": "date",
            "sex": "sex",
            "integer": "number",
            "decimal": "number",
            "bool": "bool",
        }
        if self.type in by_type:
            return by_type[self.type]
        if self.code == "person_name" or self.code.endswith("_name"):
            return "name"
        if "address" in self.code:
            return "address"
        return "text"

    @property
    def full_classification(self) -> str | None:
        """`level.sub` with sub = the element's category, else its semantic (e.g. `personal.phone`)."""
        if not self.classification:
            return None
        return f"{self.classification}.{self.category or self.value_semantic}"


# --------------------------------------------------------------------------------------- principals


class Principal(BaseModel):
    """Who receives a product: a tier, a jurisdiction prefix, optionally a department and a purpose."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tier: Tier
    jurisdiction: str
    department: str | None = None
    purpose: str | None = None
    suffix: str | None = None
    encrypt: bool = False

    @model_validator(mode="after")
    def _digits(self) -> Principal:
        digits = TIER_DIGITS[self.tier]
        if not (self.jurisdiction.isdigit() and len(self.jurisdiction) == digits):
            raise ValueError(
                f"a {self.tier.value} principal's jurisdiction is a {digits}-digit code, got {self.jurisdiction!r}"
            )
        return self

    @property
    def ref(self) -> str:
        """Stable text form, e.g. `district:310101` or `district:310101/mz`."""
        base = f"{TIER_CODES[self.tier]}:{self.jurisdiction}"
        return f"{base}/{self.suffix}" if self.suffix else base

    @property
    def profile(self) -> tuple[Tier, str | None, str | None]:
        """Treatments depend on this, never on the jurisdiction: principals sharing it share masks."""
        return (self.tier, self.department, self.purpose)

    @property
    def product_relpath(self) -> str:
        stem = f"{self.jurisdiction}.{self.suffix}" if self.suffix else self.jurisdiction
        return f"{TIER_CODES[self.tier]}/{stem}.duckdb"


@dataclass(frozen=True)
class PrincipalRef:
    tier: Tier
    jurisdiction: str
    suffix: str | None

    @property
    def product_relpath(self) -> str:
        stem = f"{self.jurisdiction}.{self.suffix}" if self.suffix else self.jurisdiction
        return f"{TIER_CODES[self.tier]}/{stem}.duckdb"

    @property
    def ref(self) -> str:
        base = f"{TIER_CODES[self.tier]}:{self.jurisdiction}"
        return f"{base}/{self.suffix}" if self.suffix else base


def parse_principal_ref(text: str) -> PrincipalRef:
    """Parse `district:310101`, `区:310101`, `township:310101002/mz` (see docs/access.md)."""
    match = re.fullmatch(r"\s*([^:\s]+)\s*:\s*(\d+)\s*(?:/\s*([a-z0-9_-]+))?\s*", text)
    if not match or match.group(1) not in TIER_BY_NAME:
        raise ValueError(
            f"principal {text!r} is not TIER:CODE[/SUFFIX] with TIER one of {', '.join(sorted(TIER_BY_NAME))}"
        )
    tier = TIER_BY_NAME[match.group(1)]
    code = match.group(2)
    if len(code) != TIER_DIGITS[tier]:
        raise ValueError(f"a {tier.value} jurisdiction is {TIER_DIGITS[tier]} digits, got {code!r}")
    return PrincipalRef(tier, code, match.group(3))


# ------------------------------------------------------------------------------------------ treatment


@dataclass(frozen=True)
class Treatment:
    """What one principal gets for one column (and, for long tables, one data element)."""

    action: str  # one of RULE_ACTIONS, or "deny"
    code: str  # why: rule | unclassified_column | no_sharing_category | not_shared | no_rule | …
    reason: str
    classification: str | None = None
    semantic: str = "text"
    sharing: Sharing | None = None
    rule_id: str | None = None

    @property
    def visible(self) -> bool:
        return self.action in VISIBLE_ACTIONS


def _deny(code: str, reason: str, **kw: Any) -> Treatment:
    return Treatment(action="deny", code=code, reason=reason, **kw)


# ------------------------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class Policy:
    settings: PolicySettings
    rules: tuple[Rule, ...]
    principal_sets: tuple[PrincipalSet, ...]
    datasets: dict[str, Dataset]
    leak_tokens: tuple[LeakTokenSource, ...]
    elements: dict[str, Element]
    version: str
    files: tuple[Path, ...] = field(default=())

    @property
    def min_cell(self) -> int:
        return self.settings.min_cell

    def _element_class(self, spec: ColumnSpec, element: str) -> tuple[str | None, str, Sharing | None, str]:
        """A column bound to a data element takes the element's classification and (stricter) sharing."""
        elem = self.elements[element]
        if elem.full_classification is None:
            return None, elem.value_semantic, elem.sharing, f"data element {element!r} has no classification"
        return (
            elem.full_classification,
            spec.semantic or elem.value_semantic,
            sharing_of(spec.sharing, elem.sharing),
            f"element {element}",
        )

    def column_class(
        self, dataset: Dataset, column: str, element: str | None = None
    ) -> tuple[str | None, str, Sharing | None, str]:
        """(classification, semantic, column-level sharing, note) of a source column, per policy."""
        spec = dataset.columns.get(column)
        if spec is None:
            return None, "text", None, f"column {column!r} is not listed in datasets.yaml"
        if spec.element_from:
            if element is None:
                return None, spec.semantic or "text", spec.sharing, "row has no data element"
            if element not in self.elements:
                return None, spec.semantic or "text", spec.sharing, f"unknown data element {element!r}"
            return self._element_class(spec, element)
        if spec.element:
            return self._element_class(spec, spec.element)  # existence checked at load
        if spec.classification:
            return spec.classification, spec.semantic or "text", spec.sharing, "declared"
        return (
            None,
            spec.semantic or "text",
            spec.sharing,
            f"column {column!r} is listed without a classification",
        )

    def resolve(
        self, principal: Principal, dataset: str, column: str, element: str | None = None
    ) -> Treatment:
        """The treatment of `column` of `dataset` for `principal` (for long tables: of one element's rows)."""
        ds = self.datasets.get(dataset)
        if ds is None:
            return _deny("unknown_dataset", f"dataset {dataset!r} is not in datasets.yaml")
        if ds.sharing is None:
            return _deny(
                "no_sharing_category", f"dataset {dataset} has no sharing category (无条件/有条件/不予共享)"
            )
        classification, semantic, col_sharing, note = self.column_class(ds, column, element)
        if classification is None:
            return _deny("unclassified_column", note, semantic=semantic)
        sharing = sharing_of(ds.sharing, col_sharing)
        assert sharing is not None
        kw: dict[str, Any] = {"classification": classification, "semantic": semantic, "sharing": sharing}
        if sharing is Sharing.NOT_SHARED:
            return _deny("not_shared", "不予共享: never leaves the engineers' warehouse", **kw)
        for rule in self.rules:
            if rule.matches(principal, dataset, classification, sharing):
                applies = MASK_APPLIES.get(rule.treatment)
                if applies is not None and semantic not in applies:
                    return _deny(
                        "mask_not_applicable",
                        f"rule {rule.id}: {rule.treatment} does not apply to {semantic} values",
                        rule_id=rule.id,
                        **kw,
                    )
                if rule.treatment == "aggregate" and ds.aggregate is None:
                    return _deny(
                        "aggregate_without_spec",
                        f"rule {rule.id}: aggregate-only, but dataset {dataset} declares no aggregate",
                        rule_id=rule.id,
                        **kw,
                    )
                return Treatment(
                    action=rule.treatment,
                    code="rule" if rule.treatment != "hide" else "hidden_by_rule",
                    reason=f"rule {rule.id}",
                    rule_id=rule.id,
                    **kw,
                )
        return _deny(
            "no_rule",
            f"no rule for tier {principal.tier.value}, class {classification}, sharing {sharing.value}, "
            f"purpose {principal.purpose or '-'}, department {principal.department or '-'}",
            **kw,
        )

    def principal_set_for(self, ref: PrincipalRef) -> PrincipalSet | None:
        for ps in self.principal_sets:
            if ps.tier is ref.tier and ps.suffix == ref.suffix:
                return ps
        return None


# --------------------------------------------------------------------------------------------- load


def _read_yaml(path: Path) -> Any:
    if not path.exists():
        raise PolicyError(f"{path}: policy file is missing")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from exc


def _fmt(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}" if loc else err["msg"])
    return "; ".join(parts)


def _entries(
    path: Path, doc: Any, key: str, model: type[BaseModel], label: str, errors: list[str]
) -> list[Any]:
    items = doc.get(key) if isinstance(doc, Mapping) else None
    if not isinstance(items, list):
        errors.append(f"{path}: `{key}` must be a list")
        return []
    out = []
    for i, item in enumerate(items):
        name = item.get(label) if isinstance(item, Mapping) else None
        where = f"{path}: {key}[{i}]" + (f" ({label}={name})" if name else "")
        try:
            out.append(model.model_validate(item))
        except ValidationError as exc:
            errors.append(f"{where}: {_fmt(exc)}")
    return out


def canonical_version(docs: Mapping[str, Any]) -> str:
    """sha256 of the parsed policy files as canonical JSON: comments and layout do not change it."""
    text = json.dumps(docs, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_policy(policy_dir: str | Path, dictionary_path: str | Path) -> Policy:
    """Load and validate every policy file; raise PolicyError listing all problems, file by file."""
    policy_dir = Path(policy_dir)
    dictionary_path = Path(dictionary_path)
    errors: list[str] = []
    docs: dict[str, Any] = {}
    for name in POLICY_FILES:
        docs[name] = _read_yaml(policy_dir / name)
    docs["data_elements.yaml"] = _read_yaml(dictionary_path)

    p_settings = policy_dir / "policy.yaml"
    try:
        settings = PolicySettings.model_validate(docs["policy.yaml"])
    except ValidationError as exc:
        raise PolicyError(f"{p_settings}: {_fmt(exc)}") from exc

    elements: dict[str, Element] = {}
    for elem in _entries(dictionary_path, docs["data_elements.yaml"], "elements", Element, "code", errors):
        if elem.code in elements:
            errors.append(f"{dictionary_path}: element {elem.code!r} is defined twice")
        if elem.classification and elem.classification not in settings.classifications:
            errors.append(
                f"{dictionary_path}: element {elem.code!r}: classification {elem.classification!r} "
                f"is not a level of {p_settings.name} ({', '.join(settings.classifications)})"
            )
        elements[elem.code] = elem

    p_rules = policy_dir / "rules.yaml"
    rules = _entries(p_rules, docs["rules.yaml"], "rules", Rule, "id", errors)
    seen: set[str] = set()
    for rule in rules:
        where = f"{p_rules}: rule {rule.id!r}"
        if rule.id in seen:
            errors.append(f"{where}: duplicate rule id")
        seen.add(rule.id)
        for pattern in rule.classifications:
            if pattern != "*" and pattern.split(".")[0] not in settings.classifications:
                errors.append(f"{where}: classification {pattern!r} is not under a declared level")
        for purpose in rule.purposes or []:
            if purpose not in settings.purposes:
                errors.append(f"{where}: purpose {purpose!r} is not declared in {p_settings.name}")

    p_principals = policy_dir / "principals.yaml"
    sets = _entries(p_principals, docs["principals.yaml"], "principal_sets", PrincipalSet, "id", errors)
    keys: set[tuple[Tier, str | None]] = set()
    for ps in sets:
        where = f"{p_principals}: principal set {ps.id!r}"
        if ps.purpose is not None and ps.purpose not in settings.purposes:
            errors.append(f"{where}: purpose {ps.purpose!r} is not declared in {p_settings.name}")
        if settings.departments is not None and ps.department not in (None, *settings.departments):
            errors.append(f"{where}: department {ps.department!r} is not declared in {p_settings.name}")
        if (ps.tier, ps.suffix) in keys:
            errors.append(f"{where}: another set of tier {ps.tier.value} has the same suffix {ps.suffix!r}")
        keys.add((ps.tier, ps.suffix))

    p_datasets = policy_dir / "datasets.yaml"
    datasets: dict[str, Dataset] = {}
    leak_tokens: list[LeakTokenSource] = []
    ddoc = docs["datasets.yaml"]
    for ds in _entries(p_datasets, ddoc, "datasets", Dataset, "name", errors):
        where = f"{p_datasets}: dataset {ds.name!r}"
        if ds.name in datasets:
            errors.append(f"{where}: duplicate dataset name")
        datasets[ds.name] = ds
        for col, spec in ds.columns.items():
            if spec is None:
                continue
            if spec.element and spec.element not in elements:
                errors.append(f"{where}: column {col!r}: unknown data element {spec.element!r}")
            if spec.classification and spec.classification.split(".")[0] not in settings.classifications:
                errors.append(
                    f"{where}: column {col!r}: {spec.classification!r} is not under a declared level"
                )
    if isinstance(ddoc, Mapping) and ddoc.get("leak_tokens") is not None:
        leak_tokens = _entries(p_datasets, ddoc, "leak_tokens", LeakTokenSource, "kind", errors)
    for rule in rules:
        unknown = [d for d in rule.datasets or [] if d not in datasets]
        if unknown:
            errors.append(f"{p_rules}: rule {rule.id!r}: unknown datasets {unknown}")

    if errors:
        raise PolicyError("invalid policy:\n  " + "\n  ".join(errors))
    return Policy(
        settings=settings,
        rules=tuple(rules),
        principal_sets=tuple(sets),
        datasets=datasets,
        leak_tokens=tuple(leak_tokens),
        elements=elements,
        version=canonical_version(docs),
        files=tuple([policy_dir / n for n in POLICY_FILES] + [dictionary_path]),
    )


def principals_for(policy: Policy, present: Iterable[str], known: Iterable[str] = ()) -> list[Principal]:
    """Expand the enabled principal sets over the jurisdiction codes present in the data.

    `present`: 12-digit codes that have rows; `known`: every 12-digit code of core.divisions (for `all`).
    """
    present = sorted({c for c in present if c and c.isdigit() and len(c) == 12})
    known = sorted({c for c in known if c and c.isdigit() and len(c) == 12} | set(present))
    out: list[Principal] = []
    for ps in policy.principal_sets:
        if not ps.enabled:
            continue
        digits = TIER_DIGITS[ps.tier]
        if isinstance(ps.jurisdictions, list):
            codes = sorted(set(ps.jurisdictions))
        else:
            source = present if ps.jurisdictions == "present" else known
            codes = sorted({c[:digits] for c in source})
        out.extend(
            Principal(
                tier=ps.tier,
                jurisdiction=code,
                department=ps.department,
                purpose=ps.purpose,
                suffix=ps.suffix,
                encrypt=ps.encrypt,
            )
            for code in codes
        )
    return out
