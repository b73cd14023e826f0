"""Map every catalog field to a data element: override, synonym, similarity and value profiling.

Why: the same fact (公民身份号码) hides under many labels (身份证号, 证件号码, 身份证号（18位）, a 文本 column
of IDs). Finding them is what lets a fact be collected once. Each mapping carries its method and a confidence;
anything below the review threshold is left unmapped and sent to review rather than guessed, and a field that
matches nothing becomes a candidate element instead of disappearing.

Decision order for one field (settings in schemas/forms/matching.yaml):
1. reviewed override (schemas/field_overrides.yaml) → method `override`, confidence 1;
2. the normalized label equals a normalized name/synonym → `synonym`;
3. a label that names another person (监护人, 配偶, 紧急联系人 …) stops here → `candidate`;
4. rapidfuzz similarity against every name/synonym (plus head-final containment: "本人电话" ends in 电话) → `fuzzy`;
5. value profile of the staged values (ID check digit, phone pattern, dates, sex vocabulary, agreement with the
   row's own ID/name/birth date/sex) → `profile`, or `fuzzy+profile` when both point at the same element;
   a strong profile beats a disagreeing label ("a column of valid IDs is 公民身份号码 whatever its label");
6. nothing → `candidate` (a new element keyed by the label's pinyin).

The label side lives in assets/forms/labels.py, the value side in assets/forms/profiling.py; their public
names stay importable from here.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import polars as pl

from assets.forms.dictionary import (
    Dictionary,
    MatchingSettings,
    Overrides,
    exact_key,
)
from assets.forms.labels import Targets, base_label, normalize_label, other_person_marker, similarity
from assets.forms.profiling import (
    PROFILE_SAMPLE,
    FieldProfile,
    ProfileVerdict,
    id_check_ok,
    is_phone,
    judge_profile,
    load_profiles,
    parse_date,
    parse_year_month,
    profile_values,
    types_compatible,
    values_contradict,
)

__all__ = [
    "FORM_FIELDS_SCHEMA", "METHODS", "PROFILE_SAMPLE", "REVIEW_COLUMNS", "STATUSES", "ELEMENTS_SCHEMA",
    "FieldMatch", "FieldProfile", "ProfileVerdict", "Targets", "base_label", "candidate_code",
    "elements_table", "id_check_ok", "is_phone", "judge_profile", "load_profiles", "match_catalog",
    "match_field", "normalize_label", "other_person_marker", "parse_date", "parse_year_month",
    "profile_values", "review_table", "similarity", "types_compatible", "values_contradict",
]  # fmt: skip

METHODS = ("override", "synonym", "fuzzy", "profile", "fuzzy+profile", "candidate")
STATUSES = ("mapped", "review", "candidate", "not_element")


# ── one field ───────────────────────────────────────────────────────────────────────────────────────────


@dataclass
class FieldMatch:
    form_code: str
    field_order: int | None
    field_label: str
    field_type: str | None
    normalized_label: str
    element_code: str | None
    method: str
    confidence: float
    status: str
    suggested_element: str | None = None
    label_score: float | None = None
    profile_element: str | None = None
    profile_confidence: float | None = None
    detail: str = ""


def candidate_code(normalized: str) -> str:
    """A stable code for a new element, from the pinyin of its normalized label (残疾证号 → cand_can_ji_zheng_hao)."""
    from pypinyin import lazy_pinyin  # its phrase dictionary: ~0.5 s of import, paid only for a new element

    syllables = [re.sub(r"[^a-z0-9]", "", s.lower()) for s in lazy_pinyin(normalized)]
    slug = "_".join(s for s in syllables if s)[:48].strip("_")
    return "cand_" + (slug or hashlib.sha1(normalized.encode()).hexdigest()[:8])


def match_field(
    form_code: str,
    field_order: int | None,
    field_label: str,
    field_type: str | None,
    dictionary: Dictionary,
    overrides: Overrides,
    settings: MatchingSettings,
    targets: Targets | None = None,
    profile: FieldProfile | None = None,
) -> FieldMatch:
    """Map one field; see the module docstring for the order of evidence."""
    targets = targets or Targets.build(dictionary, settings)
    elements = dictionary.by_code()
    th = settings.thresholds
    norm = normalize_label(field_label, settings)
    base = FieldMatch(
        form_code, field_order, field_label, field_type, norm, None, "candidate", 0.0, "candidate"
    )

    lookup = overrides.lookup()
    o = lookup.get((form_code, exact_key(field_label))) or lookup.get(("*", exact_key(field_label)))
    if o is not None:
        base.element_code, base.method, base.confidence = o.element_code, "override", 1.0
        base.status = "mapped" if o.element_code else "not_element"
        base.detail = f"override by {o.reviewer}: {o.reason}"
        return base

    ranked = targets.ranked(norm, settings)
    top_code, top_score, top_target = ranked[0] if ranked else (None, 0.0, "")
    base.label_score = top_score
    marker = other_person_marker(field_label, settings)
    if marker and top_score < 1.0:
        base.element_code = candidate_code(norm)
        base.confidence = 0.9
        base.detail = f"about another person ({marker}): not the row's own element"
        return base

    verdict = judge_profile(profile, dictionary, settings)
    base.profile_element, base.profile_confidence = verdict.element, verdict.confidence or None
    notes = [f"profile: {verdict.detail}"]

    def decide(code: str | None, method: str, conf: float, note: str) -> FieldMatch:
        base.suggested_element, base.method, base.confidence = code, method, round(min(conf, 1.0), 4)
        notes.insert(0, note)
        base.detail = "; ".join(notes)
        if code is not None and base.confidence >= th.review:
            base.element_code, base.status = code, "mapped"
        else:
            base.status = "review"
        return base

    strong_profile = (
        verdict.element is not None
        and not verdict.other_person
        and verdict.confidence >= settings.profile.strong
    )
    if verdict.element is not None and not verdict.other_person and top_score < 1.0:
        # values and a (possibly weaker) label agree: combine them as independent evidence
        s_p = next((s for c, s, _ in ranked if c == verdict.element), 0.0)
        t_p = next((t for c, _, t in ranked if c == verdict.element), "")
        if s_p >= th.fuzzy_support and (
            top_code == verdict.element or top_score < th.fuzzy_floor or strong_profile
        ):
            if not types_compatible(field_type, elements[verdict.element].type):
                s_p *= th.type_mismatch_factor
            conf = 1 - (1 - s_p) * (1 - verdict.confidence)
            return decide(
                verdict.element, "fuzzy+profile", conf, f"label ~ {t_p!r} ({s_p:.2f}) and values agree"
            )

    if top_code is not None and top_score >= th.fuzzy_floor:
        element = elements[top_code]
        method = "synonym" if top_score == 1.0 else "fuzzy"
        conf = top_score
        note = f"label ~ {top_target!r} ({top_score:.2f})"
        if not types_compatible(field_type, element.type):
            conf *= th.type_mismatch_factor
            note += f"; declared {field_type} vs element {element.type}"
        if verdict.element == top_code and not verdict.other_person:  # a synonym the values confirm
            return decide(top_code, method, max(conf, verdict.confidence), note + "; values agree")
        if strong_profile:
            return decide(verdict.element, "profile", verdict.confidence, f"values beat label {top_target!r}")
        if verdict.other_person and verdict.element == top_code:
            return decide(top_code, method, min(conf, verdict.confidence), note)
        if values_contradict(verdict.implied_type, element.type):
            conf *= th.type_mismatch_factor
            note += f"; values look like {verdict.implied_type}"
        if method == "fuzzy" and len(ranked) > 1:
            second_code, second_score, second_target = ranked[1]
            if second_score >= th.fuzzy_floor and top_score - second_score < th.ambiguity_margin:
                conf = min(conf, th.review - 0.01)
                note += f"; ambiguous with {second_code} ~ {second_target!r} ({second_score:.2f})"
        return decide(top_code, method, conf, note)

    if verdict.element is not None:
        conf = verdict.confidence
        element = elements[verdict.element]
        if not types_compatible(field_type, element.type):
            conf *= th.type_mismatch_factor
        return decide(verdict.element, "profile", conf, f"label matches nothing (best {top_score:.2f})")

    base.element_code = candidate_code(norm)
    base.confidence = round(1 - top_score, 4)
    base.detail = f"matches no element (best {top_code} {top_score:.2f}); profile: {verdict.detail}"
    return base


# ── the whole catalog ───────────────────────────────────────────────────────────────────────────────────

FORM_FIELDS_SCHEMA = {
    "form_code": pl.String,
    "field_order": pl.Int64,
    "field_label": pl.String,
    "field_type": pl.String,
    "normalized_label": pl.String,
    "element_code": pl.String,
    "method": pl.String,
    "confidence": pl.Float64,
    "status": pl.String,
    "suggested_element": pl.String,
    "label_score": pl.Float64,
    "profile_element": pl.String,
    "profile_confidence": pl.Float64,
    "detail": pl.String,
}


def match_catalog(
    fields: pl.DataFrame,
    dictionary: Dictionary,
    overrides: Overrides,
    settings: MatchingSettings,
    profiles: Mapping[tuple[str, int], FieldProfile] | None = None,
) -> pl.DataFrame:
    """catalog.form_fields: one row per catalog field (form_code, field_order, field_label, field_type)."""
    targets = Targets.build(dictionary, settings)
    profiles = profiles or {}
    rows = []
    for rec in fields.sort(["form_code", "field_order"]).iter_rows(named=True):
        order = rec.get("field_order")
        m = match_field(
            rec["form_code"],
            order,
            rec["field_label"],
            rec.get("field_type"),
            dictionary,
            overrides,
            settings,
            targets,
            profiles.get((rec["form_code"], int(order))) if order is not None else None,
        )
        rows.append(asdict(m))
    out = (
        pl.DataFrame(rows, schema=FORM_FIELDS_SCHEMA, orient="row")
        if rows
        else pl.DataFrame(schema=FORM_FIELDS_SCHEMA)
    )
    return _disambiguate_candidates(out)


def _disambiguate_candidates(frame: pl.DataFrame) -> pl.DataFrame:
    """Two different normalized labels with the same pinyin (homophones) must not share a candidate code."""
    cands = frame.filter(pl.col("status") == "candidate").select("element_code", "normalized_label").unique()
    clashes = cands.group_by("element_code").agg(pl.len().alias("n")).filter(pl.col("n") > 1)["element_code"]
    if clashes.is_empty():
        return frame
    suffix = pl.col("normalized_label").map_elements(
        lambda s: hashlib.sha1(s.encode()).hexdigest()[:4], pl.String
    )
    return frame.with_columns(
        pl.when((pl.col("status") == "candidate") & pl.col("element_code").is_in(clashes.implode()))
        .then(pl.col("element_code") + "_" + suffix)
        .otherwise(pl.col("element_code"))
        .alias("element_code")
    )


REVIEW_COLUMNS = [
    "form_code",
    "field_order",
    "field_label",
    "field_type",
    "normalized_label",
    "suggested_element",
    "method",
    "confidence",
    "label_score",
    "profile_element",
    "profile_confidence",
    "detail",
]


def review_table(form_fields: pl.DataFrame) -> pl.DataFrame:
    """catalog.field_review: the low-confidence mappings a person must decide (then add an override)."""
    return (
        form_fields.filter(pl.col("status") == "review")
        .select(REVIEW_COLUMNS)
        .sort(["form_code", "field_order"])
    )


ELEMENTS_SCHEMA = {
    "element_code": pl.String,
    "name": pl.String,
    "type": pl.String,
    "format": pl.String,
    "description": pl.String,
    "group": pl.String,
    "sharing": pl.String,
    "classification": pl.String,
    "synonyms": pl.List(pl.String),
    "derivable_from": pl.List(pl.String),
    "record_key": pl.String,
    "status": pl.String,
    "n_forms": pl.Int64,
    "n_fields": pl.Int64,
    "forms": pl.List(pl.String),
}


def elements_table(dictionary: Dictionary, form_fields: pl.DataFrame) -> pl.DataFrame:
    """catalog.data_elements: the dictionary plus the candidate elements matching produced, with their use."""
    used = (
        form_fields.filter(pl.col("element_code").is_not_null())
        .group_by("element_code")
        .agg(
            pl.col("form_code").n_unique().alias("n_forms"),
            pl.len().alias("n_fields"),
            pl.col("form_code").unique().sort().alias("forms"),
        )
    )
    use = {r["element_code"]: r for r in used.iter_rows(named=True)}
    rows = []
    for e in dictionary.elements:
        u = use.get(e.code, {})
        rows.append(
            {
                "element_code": e.code,
                "name": e.name,
                "type": e.type,
                "format": e.format,
                "description": e.description,
                "group": e.group,
                "sharing": e.sharing,
                "classification": e.classification,
                "synonyms": list(e.synonyms),
                "derivable_from": list(e.derivable_from),
                "record_key": e.record_key,
                "status": "catalogued",
                "n_forms": u.get("n_forms", 0),
                "n_fields": u.get("n_fields", 0),
                "forms": u.get("forms", []),
            }
        )
    cands = form_fields.filter(pl.col("status") == "candidate")
    for code, part in cands.group_by("element_code", maintain_order=True):
        labels = Counter(part["field_label"].to_list())
        types = Counter(t for t in part["field_type"].to_list() if t)
        rows.append(
            {
                "element_code": code[0],
                "name": labels.most_common(1)[0][0],
                "type": types.most_common(1)[0][0] if types else "text",
                "format": None,
                "description": part["detail"][0],
                "group": "candidate",
                "sharing": None,  # no sharing attribute until reviewed into data_elements.yaml: never prefilled
                "classification": None,
                "synonyms": sorted(labels),
                "derivable_from": [],
                "record_key": None,
                "status": "candidate",
                "n_forms": part["form_code"].n_unique(),
                "n_fields": part.height,
                "forms": sorted(set(part["form_code"].to_list())),
            }
        )
    return pl.DataFrame(rows, schema=ELEMENTS_SCHEMA, orient="row")
