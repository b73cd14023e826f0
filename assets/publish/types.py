"""The publishing vocabulary shared by every publish module: tiers, sharing, principals, treatments, records.

No I/O and no dagster here: policy loading, binding, planning, writing and scanning all import this module
and never each other in a circle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator


class PolicyError(ValueError):
    """A policy file is malformed; the message names the file and the offending entry."""


class PublishError(RuntimeError):
    """The run could not publish (e.g. a missing key, a broken audit chain); previous products are untouched."""


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


def sharing_of(*values: Sharing | None) -> Sharing | None:
    """The strictest of the given sharing categories (None when all are None)."""
    present = [v for v in values if v is not None]
    return max(present, key=SHARING_STRICTNESS.__getitem__) if present else None


# What a rule may decide. `deny` is never written in a rule: it is the default when nothing matches.
RULE_ACTIONS = ("show", "partial", "keyed_hash", "year_only", "nullify", "aggregate", "hide")
VISIBLE_ACTIONS = frozenset({"show", "partial", "keyed_hash", "year_only", "band", "nullify"})
Action = Literal["show", "partial", "keyed_hash", "year_only", "nullify", "aggregate", "hide"]

# The kind of value a column holds: decides which masks apply and what the leak scan looks for.
# `identifier` is a certificate/case number: like an ID, never an aggregate dimension, never shown as a count key.
SEMANTICS = (
    "name",
    "id_number",
    "phone",
    "address",
    "identifier",
    "date",
    "sex",
    "text",
    "code",
    "number",
    "bool",
)
Semantic = Literal[
    "name", "id_number", "phone", "address", "identifier", "date", "sex", "text", "code", "number", "bool"
]
# Values that point at one person: never a grouping key of an aggregate, whatever datasets.yaml says.
IDENTIFYING_SEMANTICS = frozenset({"name", "id_number", "phone", "address", "identifier"})
MASK_APPLIES: dict[str, frozenset[str]] = {
    "partial": frozenset({"name", "id_number", "phone", "address"}),
    "year_only": frozenset({"date"}),
}


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
    # ASCII only: `\s` and `\d` would accept U+2028 or full-width digits
    match = re.fullmatch(
        r"[ \t]*([a-z]+|市|区|街镇|居村)[ \t]*:[ \t]*([0-9]+)[ \t]*(?:/[ \t]*([a-z0-9_-]+))?[ \t]*", text
    )
    if not match or match.group(1) not in TIER_BY_NAME:
        raise ValueError(
            f"principal {text!r} is not TIER:CODE[/SUFFIX] with TIER one of {', '.join(sorted(TIER_BY_NAME))}"
        )
    tier = TIER_BY_NAME[match.group(1)]
    code = match.group(2)
    if len(code) != TIER_DIGITS[tier]:
        raise ValueError(f"a {tier.value} jurisdiction is {TIER_DIGITS[tier]} digits, got {code!r}")
    return PrincipalRef(tier, code, match.group(3))


@dataclass(frozen=True)
class Treatment:
    """What one principal gets for one column (and, for long tables, one data element)."""

    action: str  # one of RULE_ACTIONS, "band" (a generalized date), or "deny"
    code: str  # why: rule | unclassified_column | no_sharing_category | not_shared | no_rule | …
    reason: str
    classification: str | None = None
    semantic: str = "text"
    sharing: Sharing | None = None
    rule_id: str | None = None
    band_years: int = 0  # action "band": width of the year band (generalization for k-anonymity)

    @property
    def visible(self) -> bool:
        return self.action in VISIBLE_ACTIONS


def deny(code: str, reason: str, **kw: Any) -> Treatment:
    return Treatment(action="deny", code=code, reason=reason, **kw)


@dataclass
class Denial:
    """Something that was not published, and why (one row of publish.denials)."""

    scope: str  # dataset | column | element | rows | principal | product
    dataset: str | None
    reason_code: str
    reason: str
    column: str | None = None
    element: str | None = None
    tier: str | None = None
    department: str | None = None
    purpose: str | None = None
    rows_affected: int | None = None
    principals: int | None = None


@dataclass
class ColumnOut:
    name: str
    treatment: str
    classification: str | None
    reason: str


@dataclass
class TablePlan:
    name: str
    dataset: str
    kind: str  # rows | counts | reference
    staged: str  # memory table holding this profile's treated rows
    jurisdiction: str | None  # column of `staged` the principal's prefix filters
    columns: list[ColumnOut]
    suppressed_in: str | None = None  # memory table: the jurisdiction of each suppressed cell


@dataclass
class TableRecord:
    table: str
    dataset: str
    kind: str
    rows: int
    suppressed_cells: int
    columns: list[ColumnOut]


@dataclass
class ProductRecord:
    principal: Principal
    path: Path
    relpath: str
    jurisdiction_name: str | None
    sha256: str
    bytes: int
    encrypted: bool
    tables: list[TableRecord]
    seconds: float
    fingerprint: str = ""  # inputs of the product (policy, key, treated rows): unchanged => carried over
    carried: bool = False  # kept from the previous generation by hard link, not rewritten
    scan: dict[str, int] | None = None  # leak-scan figures of this file, taken once when it was written
    k_steps: list[str] | None = None  # k-anonymity generalizations this product's rows needed
    stat: dict[str, int] | None = (
        None  # inode, size, mtime and ctime when sealed: the blocking check compares them
    )
    pieces: dict[str, Any] | None = None  # base digest and per-partition digests (`pieces.py`)
