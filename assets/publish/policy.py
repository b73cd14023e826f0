"""Tiered, classified access policy (分级分类) as data: load, validate, version and resolve.

DuckDB has no users, GRANT, row filters or column masks, so the policy is enforced when each principal's
product is built. This module only decides (`resolve`); `plan.py` compiles the decisions of one profile and
checks them as a set (`privacy.py`); `writer.py` applies them. The models of the files are in
`policy_model.py`, the shared vocabulary in `types.py` (re-exported here for callers).

Deny by default: a column without a classification, a dataset without a sharing category, a
(principal, column) without a matching rule, and anything 不予共享 resolve to `deny`, with the reason.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from assets.publish.policy_model import (
    ColumnSpec,
    Dataset,
    DatasetsFile,
    Element,
    FormClassSpec,
    LeakTokenSource,
    PolicySettings,
    PrincipalSet,
    Rule,
    class_matches,
)
from assets.publish.types import (
    MASK_APPLIES,
    RULE_ACTIONS,
    SEMANTICS,
    TIER_BY_NAME,
    TIER_CODES,
    TIER_DIGITS,
    VISIBLE_ACTIONS,
    PolicyError,
    Principal,
    PrincipalRef,
    Sharing,
    Tier,
    Treatment,
    deny,
    parse_principal_ref,
    sharing_of,
)

__all__ = [
    "MASK_APPLIES", "RULE_ACTIONS", "SEMANTICS", "TIER_BY_NAME", "TIER_CODES", "TIER_DIGITS", "VISIBLE_ACTIONS",
    "ColumnSpec", "Dataset", "Element", "Policy", "PolicyError", "Principal", "PrincipalRef", "Rule", "Sharing",
    "Tier", "Treatment", "class_matches", "load_policy", "parse_principal_ref", "principals_for", "sharing_of",
]  # fmt: skip

POLICY_FILES = ("policy.yaml", "rules.yaml", "principals.yaml", "datasets.yaml")
MEMBERSHIP = "membership"  # sub-class of a sensitive roster's rows: `<level>.membership`


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
    form_elements: FormClassSpec | None = None

    @property
    def min_cell(self) -> int:
        return self.settings.min_cell

    @property
    def levels(self) -> list[str]:
        """Classification levels, least to most restricted (their order in policy.yaml)."""
        return list(self.settings.classifications)

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

    def column_element(self, dataset: Dataset, column: str) -> str | None:
        spec = dataset.columns.get(column)
        return spec.element if spec is not None else None

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

    def _decide(
        self, principal: Principal, ds: Dataset, classification: str, semantic: str, sharing: Sharing
    ) -> Treatment:
        kw: dict[str, Any] = {"classification": classification, "semantic": semantic, "sharing": sharing}
        if sharing is Sharing.NOT_SHARED:
            return deny("not_shared", "不予共享: never leaves the engineers' warehouse", **kw)
        for rule in self.rules:
            if not rule.matches(principal, ds.name, classification, sharing):
                continue
            applies = MASK_APPLIES.get(rule.treatment)
            if applies is not None and semantic not in applies:
                return deny("mask_not_applicable",
                            f"rule {rule.id}: {rule.treatment} does not apply to {semantic} values",
                            rule_id=rule.id, **kw)  # fmt: skip
            if rule.treatment == "aggregate" and ds.aggregate is None:
                return deny("aggregate_without_spec",
                            f"rule {rule.id}: aggregate-only, but dataset {ds.name} declares no aggregate",
                            rule_id=rule.id, **kw)  # fmt: skip
            code = "rule" if rule.treatment != "hide" else "hidden_by_rule"
            return Treatment(
                action=rule.treatment, code=code, reason=f"rule {rule.id}", rule_id=rule.id, **kw
            )
        return deny(
            "no_rule",
            f"no rule for tier {principal.tier.value}, class {classification}, sharing {sharing.value}, "
            f"purpose {principal.purpose or '-'}, department {principal.department or '-'}",
            **kw,
        )

    def resolve(
        self, principal: Principal, dataset: str, column: str, element: str | None = None
    ) -> Treatment:
        """The treatment of `column` of `dataset` for `principal` (for long tables: of one element's rows)."""
        ds = self.datasets.get(dataset)
        if ds is None:
            return deny("unknown_dataset", f"dataset {dataset!r} is not in datasets.yaml")
        if ds.sharing is None:
            return deny(
                "no_sharing_category", f"dataset {dataset} has no sharing category (无条件/有条件/不予共享)"
            )
        classification, semantic, col_sharing, note = self.column_class(ds, column, element)
        if classification is None:
            return deny("unclassified_column", note, semantic=semantic)
        sharing = sharing_of(ds.sharing, col_sharing)
        assert sharing is not None
        return self._decide(principal, ds, classification, semantic, sharing)

    def membership_level(self, elements: Iterable[str]) -> str | None:
        """The class of being on a roster that collects `elements`: its strictest level when that level is
        stricter than `personal` (a disability or 低保 roster), else None (rows are judged column by column)."""
        order = self.levels
        levels = [self.elements[e].classification for e in elements if e in self.elements]
        levels = [lv for lv in levels if lv in order]
        if not levels:
            return None
        top = max(levels, key=order.index)
        if "personal" in order and order.index(top) <= order.index("personal"):
            return None
        return top

    def resolve_membership(self, principal: Principal, dataset: str, level: str) -> Treatment:
        """May `principal` see *rows* of a roster whose membership is of class `level` (`<level>.membership`)?"""
        ds = self.datasets[dataset]
        if ds.sharing is None:
            return deny("no_sharing_category", f"dataset {dataset} has no sharing category")
        return self._decide(principal, ds, f"{level}.{MEMBERSHIP}", "bool", ds.sharing)

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


def _check_settings(
    settings: PolicySettings, elements: Mapping[str, Element], where: Path, errors: list[str]
) -> None:
    for (
        d
    ) in settings.derivable:  # parts a dictionary does not have (yet) cannot be shown: only the rest matter
        if d.identifier not in elements:
            errors.append(f"{where}: derivable {d.identifier!r}: unknown data element")
        if not any(p.element in elements for p in d.parts):
            errors.append(f"{where}: derivable {d.identifier!r}: none of its parts is a data element")


def load_policy(policy_dir: str | Path, dictionary_path: str | Path) -> Policy:
    """Load and validate every policy file; raise PolicyError listing all problems, file by file."""
    policy_dir = Path(policy_dir)
    dictionary_path = Path(dictionary_path)
    errors: list[str] = []
    docs: dict[str, Any] = {name: _read_yaml(policy_dir / name) for name in POLICY_FILES}
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
    _check_settings(settings, elements, p_settings, errors)

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
    form_elements: FormClassSpec | None = None
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
        if ds.membership is not None and (ddoc or {}).get("form_elements") is None:
            errors.append(f"{where}: `membership` needs `form_elements` (which elements each form collects)")
    if isinstance(ddoc, Mapping) and ddoc.get("leak_tokens") is not None:
        leak_tokens = _entries(p_datasets, ddoc, "leak_tokens", LeakTokenSource, "kind", errors)
    if isinstance(ddoc, Mapping) and ddoc.get("form_elements") is not None:
        try:
            form_elements = FormClassSpec.model_validate(ddoc["form_elements"])
        except ValidationError as exc:
            errors.append(f"{p_datasets}: form_elements: {_fmt(exc)}")
    if isinstance(ddoc, Mapping):
        extra = set(ddoc) - set(DatasetsFile.model_fields)
        if extra:
            errors.append(f"{p_datasets}: unknown top-level keys {sorted(extra)}")
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
        form_elements=form_elements,
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
            Principal(tier=ps.tier, jurisdiction=code, department=ps.department, purpose=ps.purpose,
                      suffix=ps.suffix, encrypt=ps.encrypt)
            for code in codes
        )  # fmt: skip
    return out
