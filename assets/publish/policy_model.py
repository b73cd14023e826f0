"""The pydantic models of the policy files (schemas/policy/*.yaml and the data-element dictionary).

Validation only: what each file may say. `policy.py` loads the files and resolves decisions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from assets.publish.types import (
    TIER_DIGITS,
    Action,
    Principal,
    Semantic,
    Sharing,
    Tier,
)

IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
CLASS = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
QUALIFIED = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
# An element whose values are certificate or case numbers (低保证号, 残疾证号 …): an identifier.
_IDENTIFIER_CODE = re.compile(r"(_no|_number|_cert|_certificate|_case_id)$")
_IDENTIFIER_NAME = re.compile(r"(证号|编号|号码|证件号)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KAnonymity(_Strict):
    """Quasi-identifiers of de-identified products are generalized until every combination covers k persons."""

    k: int = Field(default=5, ge=2)
    tiers: list[Tier] = Field(default_factory=list)
    # classes that are quasi-identifiers when shown (prefix match, like rules)
    quasi_identifiers: list[str] = Field(default_factory=lambda: ["personal"])
    # date generalization ladder after the year, in years (then the date is hidden)
    year_bands: list[int] = Field(default_factory=lambda: [5, 10, 20])


class DerivedPart(_Strict):
    """An element that gives back part of a masked identifier, and how precisely a treatment shows it."""

    element: str
    precision: Literal["day", "month", "year"]


class DerivableIdentifier(_Strict):
    """A partially masked identifier whose hidden part other columns reveal (an ID's digits 7–14 = birth date)."""

    identifier: str
    hidden: str
    parts: list[DerivedPart]
    finest_allowed: Literal["month", "year", "none"] = "year"


class PolicySettings(_Strict):
    """policy.yaml: the vocabulary every other file is checked against."""

    version: int | str
    name: str = "jianfu"
    classifications: dict[str, str] = Field(min_length=1)
    purposes: dict[str, str] = Field(default_factory=dict)
    departments: list[str] | None = None
    min_cell: int = Field(default=5, ge=2)
    k_anonymity: KAnonymity = Field(default_factory=KAnonymity)
    derivable: list[DerivableIdentifier] = Field(default_factory=list)

    @field_validator("classifications")
    @classmethod
    def _levels_are_identifiers(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [k for k in value if not IDENT.match(k)]
        if bad:
            raise ValueError(f"classification levels must be lower_snake identifiers: {bad}")
        return value


def class_matches(pattern: str, classification: str) -> bool:
    """`personal` matches `personal` and `personal.phone`; `*` matches any classified column."""
    return pattern == "*" or classification == pattern or classification.startswith(pattern + ".")


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
        bad = [p for p in value if p != "*" and not CLASS.match(p)]
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


class ColumnSpec(_Strict):
    """How one source column is classified: exactly one of `classification`, `element`, `element_from`.

    An entry with none of them is an explicit 'not classified': it is denied like an absent entry.
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
        if self.classification and not CLASS.match(self.classification):
            raise ValueError(f"not a classification: {self.classification!r}")
        return self


class Source(_Strict):
    table: str | None = None
    sql: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Source:
        if (self.table is None) == (self.sql is None):
            raise ValueError("a source is either `table: schema.name` or `sql: SELECT …`")
        if self.table is not None and not QUALIFIED.match(self.table):
            raise ValueError(f"table must be schema.name in lower case: {self.table!r}")
        return self

    @property
    def select_sql(self) -> str:
        return f"SELECT * FROM {self.table}" if self.table else str(self.sql).strip().rstrip(";")

    @property
    def label(self) -> str:
        return self.table or "sql"


class AggregateSpec(_Strict):
    """Aggregate-only form: counts grouped by `by` (+ the aggregate-only columns), small cells suppressed."""

    by: list[str] = Field(default_factory=list)
    jurisdiction_digits: Literal[2, 6, 9, 12] = 9


class GoldenSpec(_Strict):
    """A golden-record dataset: each shown value must have been delivered inside the principal's jurisdiction.

    `lineage`: alternatives of a SELECT giving (key, element_code, value, committee_code) per delivered value."""

    key: str
    lineage: list[Source] = Field(min_length=1)


class Dataset(_Strict):
    name: str
    description: str = ""
    sources: list[Source] = Field(min_length=1)
    sharing: Sharing | None = None
    jurisdiction: str | None = None
    jurisdiction_digits: Literal[6, 9, 12] = 12  # a township-level mart: 9 (committees then get none of it)
    reference: bool = False
    aggregate: AggregateSpec | None = None
    # column holding each row's form: a row of a sensitive roster is data of the roster's classification
    membership: str | None = None
    # column identifying the person a row is about (k-anonymity counts distinct subjects, not rows)
    subject: str | None = None
    golden: GoldenSpec | None = None
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
        if not IDENT.match(self.name) or self.name.endswith("_counts"):
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
        for what, col in (("membership", self.membership), ("subject", self.subject)):
            if col is not None and col not in self.columns:
                raise ValueError(f"{what} column {col!r} must be listed")
        if self.golden is not None and self.golden.key not in self.columns:
            raise ValueError(f"golden.key {self.golden.key!r} must be listed")
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


class FormClassSpec(_Strict):
    """Which data elements each form collects: a form's membership class is the strictest of them."""

    sources: list[Source] = Field(min_length=1)


class DatasetsFile(_Strict):
    version: int | str = 1
    datasets: list[Dataset]
    leak_tokens: list[LeakTokenSource] = Field(default_factory=list)
    form_elements: FormClassSpec | None = None


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
        if self.suffix is not None and not IDENT.match(self.suffix.replace("-", "_")):
            raise ValueError(f"suffix must be ASCII lower-case: {self.suffix!r}")
        if isinstance(self.jurisdictions, list):
            digits = TIER_DIGITS[self.tier]
            bad = [j for j in self.jurisdictions if not (j.isdigit() and len(j) == digits)]
            if bad:
                raise ValueError(f"jurisdictions of tier {self.tier.value} are {digits}-digit codes: {bad}")
        return self


_BY_TYPE = {
    "id_number": "id_number",
    "phone": "phone",
    "date": "date",
    "year_month": "date",
    "sex": "sex",
    "integer": "number",
    "decimal": "number",
    "bool": "bool",
}


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
        """What kind of value the element holds, for masking, aggregates and the leak scan."""
        if self.semantic:
            return self.semantic
        if self.type in _BY_TYPE:
            return _BY_TYPE[self.type]
        if self.code == "person_name" or self.code.endswith("_name"):
            return "name"
        if "address" in self.code:
            return "address"
        if _IDENTIFIER_CODE.search(self.code) or _IDENTIFIER_NAME.search(self.name):
            return "identifier"
        return "text"

    @property
    def full_classification(self) -> str | None:
        """`level.sub` with sub = the element's category, else its semantic (e.g. `personal.phone`)."""
        if not self.classification:
            return None
        return f"{self.classification}.{self.category or self.value_semantic}"
