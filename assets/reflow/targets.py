"""Target rules of the prefilled forms (schemas/reflow/targets.yaml): who belongs on next period's form.

The file is validated with pydantic when a run reads it (never at import time); an error names the file
and the entry. Periods follow the landing-zone contract (2026-10, 2026Q3, 2026, 2026-10-15).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from assets.common import paths

TARGETS_PATH = paths.SCHEMAS_DIR / "reflow" / "targets.yaml"
Step = Literal["month", "quarter", "year", "month_start_day"]


class TargetsFileError(ValueError):
    """schemas/reflow/targets.yaml cannot be used; the message names the file and the entry."""


class AgeRange(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min: int | None = Field(default=None, ge=0, le=130)
    max: int | None = Field(default=None, ge=0, le=130)

    @model_validator(mode="after")
    def _ordered(self) -> AgeRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"age.min {self.min} > age.max {self.max}")
        return self


class Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    coverage_date: Literal["start", "end"] = "end"
    carry_forward: bool = True
    enrol: bool = False
    purpose: str = "数据回流"


class FormRule(BaseModel):
    """One form's rule; keys left out take the defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str = "全部"
    age: AgeRange | None = None
    sex: Literal["男", "女"] | None = None
    committee_kinds: list[str] | None = None
    coverage_date: Literal["start", "end"] | None = None
    carry_forward: bool | None = None
    enrol: bool | None = None
    purpose: str | None = None


class ResolvedRule(BaseModel):
    """A form's rule with the defaults applied: what the roster code reads."""

    model_config = ConfigDict(frozen=True)

    form_code: str
    target: str
    age_min: int | None
    age_max: int | None
    sex: str | None
    committee_kinds: list[str] | None
    coverage_date: Literal["start", "end"]
    carry_forward: bool
    enrol: bool
    purpose: str


class Targets(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    defaults: Defaults = Defaults()
    drop_after_removal: list[str] = Field(default_factory=list)
    next_period: dict[str, Step]
    forms: dict[str, FormRule] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _codes(self) -> Targets:
        bad = [c for c in self.forms if not re.fullmatch(r"[A-Z]{2}\d{2}", c)]
        if bad:
            raise ValueError(f"form codes must look like MZ01: {bad}")
        return self

    def rule(self, form_code: str) -> ResolvedRule:
        r = self.forms.get(form_code, FormRule())
        d = self.defaults
        return ResolvedRule(
            form_code=form_code,
            target=r.target,
            age_min=r.age.min if r.age else None,
            age_max=r.age.max if r.age else None,
            sex=r.sex,
            committee_kinds=r.committee_kinds,
            coverage_date=r.coverage_date or d.coverage_date,
            carry_forward=d.carry_forward if r.carry_forward is None else r.carry_forward,
            enrol=d.enrol if r.enrol is None else r.enrol,
            purpose=r.purpose or d.purpose,
        )


def load_targets(path: str | Path = TARGETS_PATH) -> Targets:
    """Read and validate the target rules; every problem is listed with its location."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TargetsFileError(f"{path}: cannot read: {exc}") from exc
    try:
        return Targets.model_validate(doc)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise TargetsFileError(f"{path}: {len(problems)} problem(s)\n  " + "\n  ".join(problems)) from exc


# ── periods ────────────────────────────────────────────────────────────────────────────────────────


def next_period(period: str, step: Step) -> str:
    """The period after `period` (2026-10 → 2026-11, 2026Q4 → 2027Q1, 2025 → 2026, day → 1st of next month)."""
    if step == "month":
        y, m = int(period[:4]), int(period[5:7])
        return f"{y + m // 12}-{m % 12 + 1:02d}"
    if step == "quarter":
        y, q = int(period[:4]), int(period[-1])
        return f"{y + q // 4}Q{q % 4 + 1}"
    if step == "year":
        return str(int(period[:4]) + 1)
    y, m = int(period[:4]), int(period[5:7])
    return f"{y + m // 12}-{m % 12 + 1:02d}-01"


def period_bounds(period: str) -> tuple[dt.date, dt.date]:
    """(first day, last day) of a contract period; ValueError for anything else."""
    if m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", period):
        day = dt.date(int(m[1]), int(m[2]), int(m[3]))
        return day, day
    if m := re.fullmatch(r"(\d{4})-(\d{2})", period):
        y, mo = int(m[1]), int(m[2])
        return dt.date(y, mo, 1), dt.date(y, mo, calendar.monthrange(y, mo)[1])
    if m := re.fullmatch(r"(\d{4})Q([1-4])", period):
        y, last = int(m[1]), int(m[2]) * 3
        return dt.date(y, last - 2, 1), dt.date(y, last, calendar.monthrange(y, last)[1])
    if m := re.fullmatch(r"(\d{4})", period):
        return dt.date(int(m[1]), 1, 1), dt.date(int(m[1]), 12, 31)
    raise ValueError(f"period {period!r} is not YYYY-MM, YYYYQn, YYYY or YYYY-MM-DD")


def coverage_date(period: str, which: Literal["start", "end"]) -> dt.date:
    start, end = period_bounds(period)
    return start if which == "start" else end


def age_on(birth: dt.date, day: dt.date) -> int:
    """Whole years of age on `day` (a birthday on `day` counts: born 1946-11-30 is 80 on 2026-11-30)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
