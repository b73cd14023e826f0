"""The declarative match spec: what to compare, how to block, how to estimate, cluster and name entities.

A spec is YAML validated by pydantic on load. Nothing here knows about residents or warehouse tables:
the resident spec lives in `schemas/matching/residents.yaml`, and another spec can match households,
enterprises or any other column set. Errors name the file and the offending entry.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from assets.matching.levels import BUILTIN_ALIASES, KINDS
from assets.matching.settings import (
    DEV_SALT,
    CannotLink,
    Clustering,
    Deterministic,
    Estimation,
    Golden,
    GoldenAttribute,
    Identity,
    Sanity,
    SortKey,
    SpecError,
    Threshold,
    _Model,
)

__all__ = [
    "DEV_SALT", "BlockingRule", "CannotLink", "Clustering", "Comparison", "Deterministic", "Estimation", "Feature",
    "Golden", "GoldenAttribute", "Identity", "Level", "MatchSpec", "Sanity", "SortKey", "SpecError", "Threshold",
    "load_spec", "parse_spec",
]  # fmt: skip

IDENT = re.compile(r"^[a-z][a-z0-9_]*$")

# Transforms that turn an input column into a feature (see transforms.py).
Transform = Literal[
    "text", "upper", "digits", "id_number", "pinyin", "date", "address", "name", "sex", "phone", "none"
]
# Companion columns derived automatically from a feature, by transform.
COMPANIONS: dict[str, tuple[str, ...]] = {
    "id_number": ("valid", "birth", "sex"),
    "text": ("py",),
    "name": ("py",),
    "address": (),
    "pinyin": (),
}


class Feature(_Model):
    """A column prepared once per record: from an input `column` through a `transform`, or a DuckDB `sql`
    expression over earlier features."""

    column: str | None = None
    transform: Transform = "text"
    sql: str | None = None
    strip_prefixes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_source(self) -> Feature:
        if (self.column is None) == (self.sql is None):
            raise ValueError("give exactly one of `column` (an input column) or `sql` (an expression)")
        return self


class MaskedWindows(_Model):
    """Block on the key with each window of `width` characters masked: any single substitution or
    adjacent transposition falls inside some window when step < width."""

    width: int = Field(ge=1)
    step: int = Field(ge=1)

    @model_validator(mode="after")
    def _covers(self) -> MaskedWindows:
        if self.step >= self.width:
            raise ValueError("step must be smaller than width, or a transposition can straddle two windows")
        return self


class BlockingRule(_Model):
    """Candidate pairs are records that agree on every key (all non-null)."""

    name: str
    keys: tuple[str, ...] = Field(min_length=1)
    masked_windows: MaskedWindows | None = None
    max_block_size: int | None = Field(default=None, ge=2)
    # An extra SQL condition on the pair (columns as l.x / r.x), e.g. keep only the pairs a comparison
    # level can use: pairs of two valid ID numbers are never one-digit typos of each other.
    filter: str | None = None

    @model_validator(mode="after")
    def _masked_single(self) -> BlockingRule:
        if self.masked_windows is not None and len(self.keys) != 1:
            raise ValueError("masked_windows works on exactly one key")
        return self


LevelKind = Literal[
    "exact",
    "pinyin_equal",
    "jaro_winkler",
    "jaro",
    "levenshtein",
    "damerau_levenshtein",
    "date_diff",
    "prefix",
    "id_check_digit",
    "id_one_edit",
    "id_both_valid",
    "alias",
    "sql",
    "else",
]  # fmt: skip  (each kind's parameters, feature types and SQL: assets/matching/levels.py)


class Level(_Model):
    """One comparison level; the first level whose condition holds is the pair's level."""

    kind: LevelKind
    label: str | None = None
    feature: str | None = None  # overrides the comparison's feature for this level
    min: float | None = Field(default=None, ge=0.0, le=1.0)
    max: int | None = Field(default=None, ge=0)
    max_days: int | None = Field(default=None, ge=0)
    length: int | None = Field(default=None, ge=1)
    condition: str | None = None
    # `alias`: the list of equivalent values, `nicknames` (English given names, from the `nicknames`
    # package) or a CSV file (name, alias; relative to the spec file)
    aliases: str | None = None
    # A level that is evidence against a match (two valid, different ID numbers): its weight must not
    # exceed the `else` level's, and it is left out of the monotone order of the others.
    against: bool = False
    # A level that is not stricter or looser than its neighbours, only different (same committee with
    # nothing else known, next to same address; names swapped): it must weigh at least as much as `else`.
    ordered: bool = True

    @model_validator(mode="after")
    def _params(self) -> Level:
        needed = KINDS[self.kind].needs
        if needed and getattr(self, needed) is None:
            raise ValueError(f"level kind `{self.kind}` needs `{needed}`")
        return self

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        if self.kind == "alias":
            return "alias"
        for param in ("min", "max", "max_days", "length"):
            value = getattr(self, param)
            if value is not None:
                return f"{self.kind}_{param}_{value}"
        return self.kind


class Comparison(_Model):
    """Levels of agreement on one attribute. A pair with the feature null on either side gets the null
    level (weight 0), so missing data is neither evidence for nor against."""

    name: str
    feature: str
    levels: tuple[Level, ...] = Field(min_length=2)
    # Term-frequency adjustment of the first (exact) level: agreeing on a rare value says more than
    # agreeing on a common one (张伟 vs 欧阳明辉), as Splink's `term_frequency_adjustments`.
    term_frequency: bool = False
    # Agreement that another comparison already implies: the levels before `else` count as null (weight 0)
    # when every named comparison is at one of the listed levels. One household's members share a
    # surname, so at the same home an agreeing surname is no further evidence (`{home: [same_phone]}`);
    # counted twice, the household outweighs two different first names. Disagreement still counts.
    implied_by: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _else_last(self) -> Comparison:
        kinds = [lv.kind for lv in self.levels]
        if kinds[-1] != "else":
            raise ValueError("the last level must be `else` (every pair needs a level)")
        if "else" in kinds[:-1]:
            raise ValueError("`else` may only be the last level")
        if self.term_frequency and kinds[0] != "exact":
            raise ValueError("term_frequency adjusts an `exact` first level; the first level is " + kinds[0])
        names = [lv.name for lv in self.levels]
        if len(set(names)) != len(names):
            raise ValueError(f"level names repeat: {names}; give a `label`")
        return self


class MatchSpec(_Model):
    version: Literal[1] = 1
    entity: str
    description: str = ""
    record_id: str
    features: dict[str, Feature]
    blocking: tuple[BlockingRule, ...] = Field(min_length=1)
    comparisons: tuple[Comparison, ...] = Field(min_length=1)
    estimation: Estimation = Estimation()
    threshold: Threshold
    clustering: Clustering = Clustering()
    golden: Golden = Golden()
    identity: Identity = Identity()

    @field_validator("features")
    @classmethod
    def _feature_names(cls, value: dict[str, Feature]) -> dict[str, Feature]:
        for name in value:
            if not IDENT.match(name) or "__" in name:
                raise ValueError(f"feature name `{name}` must be lower_snake_case without `__`")
        return value

    # ---- cross-reference checks -------------------------------------------------------------
    def columns(self) -> set[str]:
        """Every name a rule may reference: features and their companions."""
        names = set(self.features)
        for fname, feat in self.features.items():
            if feat.column is not None:
                names.update(f"{fname}__{c}" for c in COMPANIONS.get(feat.transform, ()))
        return names

    def feature_type(self, name: str) -> str:
        base, _, companion = name.partition("__")
        if companion == "valid":
            return "bool"
        if companion == "birth":
            return "date"
        if companion:
            return "text"
        feat = self.features[base]
        if feat.sql is not None:
            return "sql"
        return feat.transform

    @model_validator(mode="after")
    def _references(self) -> MatchSpec:
        known = self.columns()

        def check(name: str, where: str) -> None:
            if name not in known:
                raise ValueError(f"{where}: unknown feature `{name}` (known: {', '.join(sorted(known))})")

        seen: set[str] = set()
        for rule in self.blocking:
            if rule.name in seen:
                raise ValueError(f"blocking rule name `{rule.name}` repeats")
            seen.add(rule.name)
            for key in rule.keys:
                check(key, f"blocking rule `{rule.name}`")
        seen = set()
        for comp in self.comparisons:
            if comp.name in seen:
                raise ValueError(f"comparison name `{comp.name}` repeats")
            seen.add(comp.name)
            check(comp.feature, f"comparison `{comp.name}`")
            for level in comp.levels:
                feat = level.feature or comp.feature
                check(feat, f"comparison `{comp.name}` level `{level.name}`")
                ftype = self.feature_type(feat)
                accepted = KINDS[level.kind].feature_types
                if accepted is not None and ftype not in accepted:
                    raise ValueError(
                        f"comparison `{comp.name}` level `{level.kind}` needs a feature with transform "
                        f"{' or '.join(accepted)}, `{feat}` has {ftype}"
                    )
        comps = {c.name: [lv.name for lv in c.levels] for c in self.comparisons}
        for i, rule in enumerate(self.threshold.never_link):
            if not rule:
                raise ValueError(f"threshold.never_link[{i}] is empty")
            for comp_name, levels in rule.items():
                if comp_name not in comps:
                    raise ValueError(f"threshold.never_link[{i}]: no comparison `{comp_name}`")
                unknown = [lv for lv in levels if lv != "missing" and lv not in comps[comp_name]]
                if unknown:
                    raise ValueError(
                        f"threshold.never_link[{i}]: comparison `{comp_name}` has no level {unknown}; "
                        f"levels: {comps[comp_name] + ['missing']}"
                    )
        for comp in self.comparisons:
            for comp_name, levels in comp.implied_by.items():
                if comp_name not in comps or comp_name == comp.name:
                    raise ValueError(
                        f"comparison `{comp.name}` implied_by: no other comparison `{comp_name}`"
                    )
                unknown = [lv for lv in levels if lv not in comps[comp_name]]
                if unknown:
                    raise ValueError(
                        f"comparison `{comp.name}` implied_by: comparison `{comp_name}` has no level {unknown}; "
                        f"levels: {comps[comp_name]}"
                    )
        est = self.estimation
        rule_names = {r.name for r in self.blocking}
        for name in est.em_blocking:
            if name not in rule_names:
                raise ValueError(
                    f"estimation.em_blocking: no blocking rule `{name}` (rules: {sorted(rule_names)})"
                )
        for i, rule in enumerate(est.deterministic.rules if est.deterministic else ()):
            for comp_name, levels in rule.items():
                if comp_name not in comps:
                    raise ValueError(f"estimation.deterministic.rules[{i}]: no comparison `{comp_name}`")
                unknown = [lv for lv in levels if lv not in comps[comp_name]]
                if unknown:
                    raise ValueError(
                        f"estimation.deterministic.rules[{i}]: comparison `{comp_name}` has no level {unknown}; "
                        f"levels: {comps[comp_name]}"
                    )
        for where, names in (("strong", est.sanity.strong), ("location", est.sanity.location)):
            for comp_name in names:
                if comp_name not in comps:
                    raise ValueError(f"estimation.sanity.{where}: no comparison `{comp_name}`")
        cl = self.clustering.cannot_link
        if cl is not None:
            check(cl.feature, "clustering.cannot_link")
            if cl.when:
                check(cl.when, "clustering.cannot_link.when")
        if self.identity.anchor:
            check(self.identity.anchor, "identity.anchor")
        if self.identity.anchor_when:
            check(self.identity.anchor_when, "identity.anchor_when")
        if self.clustering.strong_link < self.threshold.match_probability:
            raise ValueError("clustering.strong_link must not be below threshold.match_probability")
        return self

    def needed_features(self, golden: bool = True) -> set[str]:
        """Features the run reads (with their companions): blocking, comparisons, clustering, naming,
        and with `golden` the survivorship columns; SQL snippets are scanned for the names they use."""
        names = self.columns()
        refs: set[str] = set()
        snippets: list[str] = []
        for rule in self.blocking:
            refs.update(rule.keys)
            if rule.filter:
                snippets.append(rule.filter)

        for comp in self.comparisons:
            refs.add(comp.feature)
            for level in comp.levels:
                f = level.feature or comp.feature
                refs.add(f)
                refs.update(f"{f}__{c}" for c in KINDS[level.kind].companions)
                if level.condition:
                    snippets.append(level.condition)
        cl = self.clustering.cannot_link
        if cl:
            refs.update(x for x in (cl.feature, cl.when) if x)
        refs.update(x for x in (self.identity.anchor, self.identity.anchor_when) if x)
        if golden:
            refs.update(a.column for a in self.golden.attributes)
            refs.update(k.lstrip("-") for a in self.golden.attributes for k in a.prefer)
        refs &= names | set(self.input_columns())
        # SQL features and snippets pull in what they mention (a conservative substring scan).
        changed = True
        while changed:
            changed = False
            texts = snippets + [self.features[r].sql or "" for r in refs if r in self.features]
            for name in names:
                if name not in refs and any(re.search(rf"\b{re.escape(name)}\b", t) for t in texts):
                    refs.add(name)
                    changed = True
        return refs

    def input_columns(self) -> list[str]:
        """Input columns the spec reads (record id first)."""
        cols = [self.record_id]
        for feat in self.features.values():
            if feat.column and feat.column not in cols:
                cols.append(feat.column)
        for extra in [self.golden.recency, *(a.column for a in self.golden.attributes)]:
            if extra and extra not in cols and extra not in self.columns():
                cols.append(extra)
        return cols


def _format_errors(err: ValidationError, data: dict) -> str:
    """One entry per problem, naming list items by their `name` (comparison `name`, not comparisons.1)."""
    lines = []
    for item in err.errors():
        parts: list[str] = []
        node: object = data
        for p in item["loc"]:
            child = node[p] if isinstance(node, (dict, list)) and _has(node, p) else None
            if isinstance(p, int) and isinstance(child, dict) and isinstance(child.get("name"), str):
                parts[-1:] = [f"{parts[-1] if parts else ''}[{child['name']}]"]
            else:
                parts.append(str(p))
            node = child
        lines.append(f"  - {'.'.join(parts) or '(top level)'}: {item['msg']}")
    return "\n".join(lines)


def _has(node: dict | list, key: object) -> bool:
    if isinstance(node, dict):
        return key in node
    return isinstance(key, int) and -len(node) <= key < len(node)


def parse_spec(data: object, source: str = "<spec>") -> MatchSpec:
    """Validate a spec given as a dict; errors name `source` and each offending entry."""
    if not isinstance(data, dict):
        raise SpecError(f"{source}: a match spec must be a mapping, got {type(data).__name__}")
    try:
        return MatchSpec.model_validate(data)
    except ValidationError as err:
        raise SpecError(f"{source}: invalid match spec\n{_format_errors(err, data)}") from None


def _resolve_alias_paths(spec: MatchSpec, path: Path) -> MatchSpec:
    """Alias lists named by a relative path are read next to the spec file; a missing one is a spec error."""
    comps = []
    for comp in spec.comparisons:
        levels = []
        for lv in comp.levels:
            if lv.kind == "alias" and lv.aliases not in BUILTIN_ALIASES:
                file = Path(lv.aliases or "")
                file = file if file.is_absolute() else path.parent / file
                if not file.is_file():
                    raise SpecError(
                        f"{path}: comparison `{comp.name}` level `alias`: no alias list {file} "
                        f"(give a CSV file or one of {', '.join(BUILTIN_ALIASES)})"
                    )
                lv = lv.model_copy(update={"aliases": str(file)})
            levels.append(lv)
        comps.append(comp.model_copy(update={"levels": tuple(levels)}))
    return spec.model_copy(update={"comparisons": tuple(comps)})


def load_spec(path: str | Path) -> MatchSpec:
    """Read and validate a YAML spec file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"{path}: spec file not found") from None
    except yaml.YAMLError as err:
        raise SpecError(f"{path}: not valid YAML: {err}") from None
    spec = parse_spec(data, str(path))
    spec = _resolve_alias_paths(spec, path)
    prior = spec.estimation.prior_model
    if prior and not Path(prior).is_absolute():
        est = spec.estimation.model_copy(update={"prior_model": str(path.parent / prior)})
        spec = spec.model_copy(update={"estimation": est})
    return spec
