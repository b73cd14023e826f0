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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import duckdb
import polars as pl
from pypinyin import lazy_pinyin
from rapidfuzz import fuzz

from assets.common import warehouse
from assets.common.gb11643 import check_digit
from assets.forms.dictionary import (
    DataElement,
    Dictionary,
    MatchingSettings,
    Overrides,
    SchemaFileError,
    exact_key,
)

METHODS = ("override", "synonym", "fuzzy", "profile", "fuzzy+profile", "candidate")
STATUSES = ("mapped", "review", "candidate", "not_element")

_BRACKETED = re.compile(
    r"\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】|〔[^〔〕]*〕|<[^<>]*>|「[^「」]*」|『[^『』]*』|\{[^{}]*\}"
)
_NOT_WORD = re.compile(r"[\W_]+")
_TYPE_FAMILIES = ({"date", "year_month"}, {"integer", "decimal"})


# ── label normalization and similarity ──────────────────────────────────────────────────────────────────


def _strip_brackets(text: str) -> str:
    previous = None
    while previous != text:  # nested notes: 身份证号（18位（必填））
        previous, text = text, _BRACKETED.sub("", text)
    return text


def base_label(label: str) -> str:
    """NFKC, lower case, bracketed notes and punctuation/whitespace removed: the words actually asked."""
    text = unicodedata.normalize("NFKC", label or "").lower()
    return _NOT_WORD.sub("", _strip_brackets(text))


def normalize_label(label: str, settings: MatchingSettings) -> str:
    """The comparison form of a label: base label, 号码→号, fillers removed, leading subject words stripped.

    "身份证号码（18位）" → "身份证号"; "老人的联系电话" → "联系电话"; "是否独居" → "独居".
    A prefix is stripped only when at least two characters remain, so a label never empties.
    """
    text = base_label(label)
    for word, same in settings.normalize.equivalents.items():
        text = text.replace(word, same)
    for filler in settings.normalize.fillers:
        text = text.replace(filler, "")
    prefixes = sorted(settings.normalize.strip_prefixes, key=len, reverse=True)
    changed = True
    while changed:
        changed = False
        for prefix in prefixes:
            if text.startswith(prefix) and len(text) - len(prefix) >= 2:
                text = text[len(prefix) :]
                changed = True
                break
    return text


def other_person_marker(label: str, settings: MatchingSettings) -> str | None:
    """The marker word when the label is about someone other than the row's subject (监护人身份证号)."""
    text = base_label(label)
    return next((m for m in settings.normalize.other_person_markers if m and m in text), None)


def similarity(label: str, target: str, settings: MatchingSettings) -> float:
    """Similarity in [0, 1] of two normalized labels.

    Character-level Indel ratio (rapidfuzz) catches variants such as 户籍详址/户籍地址. Chinese noun compounds
    are head-final, so a target that *ends* the label ("本人电话" → 电话) is strong evidence, while a target
    elsewhere inside it ("姓名拼音", "身份证有效期") is weak: the head noun is something else. A label that is
    only the tail of a target ("补贴金额" of "高龄补贴金额") lacks the qualifier and is capped as weak too.
    """
    if not label or not target:
        return 0.0
    if label == target:
        return 1.0
    score = fuzz.ratio(label, target) / 100.0
    th = settings.thresholds
    if len(label) < len(target) and target.endswith(label):
        # the label is the target without its qualifier ("补贴金额" vs "高龄补贴金额"): too generic to be sure
        return round(min(score, th.inner_base), 4)
    if len(target) >= 2 and len(target) < len(label):
        share = len(target) / len(label)
        if label.endswith(target):
            score = max(score, th.suffix_base + (1 - th.suffix_base) * share)
        elif target in label:
            score = max(score, th.inner_base * (0.5 + 0.5 * share))
    return round(score, 4)


@dataclass(frozen=True)
class Targets:
    """Normalized names and synonyms of the dictionary, each pointing at one element."""

    by_label: dict[str, str]

    @classmethod
    def build(cls, dictionary: Dictionary, settings: MatchingSettings) -> Targets:
        by_label: dict[str, str] = {}
        for element in dictionary.elements:
            for label in element.labels:
                key = normalize_label(label, settings)
                if by_label.get(key, element.code) != element.code:
                    raise SchemaFileError(
                        f"data_elements.yaml: label {label!r} of {element.code!r} normalizes to {key!r}, "
                        f"which is already a label of {by_label[key]!r} (see normalize: in forms/matching.yaml)"
                    )
                by_label[key] = element.code
        return cls(by_label)

    def ranked(self, label: str, settings: MatchingSettings) -> list[tuple[str, float, str]]:
        """(element, best score, the target label that gave it) per element, best first."""
        best: dict[str, tuple[float, str]] = {}
        for target, code in self.by_label.items():
            s = similarity(label, target, settings)
            if s > best.get(code, (-1.0, ""))[0]:
                best[code] = (s, target)
        return sorted(((c, s, t) for c, (s, t) in best.items()), key=lambda x: (-x[1], x[0]))


# ── value profiling ─────────────────────────────────────────────────────────────────────────────────────

_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$|^(\d{4})(\d{2})(\d{2})$")
_YEAR_MONTH = re.compile(r"^(\d{4})[-/.年](\d{1,2})月?$|^(\d{4})(\d{2})$")
_MOBILE = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^(?:021)?[2-9]\d{7}$")
_SEX = {"男": "男", "女": "女", "男性": "男", "女性": "女"}


def _clean(value: str | None) -> str:
    return "".join(unicodedata.normalize("NFKC", value or "").split())


def id_check_ok(value: str | None) -> bool:
    """GB 11643: 17 digits and the right check digit (or a 15-digit legacy number with a real birth date)."""
    text = _clean(value).upper()
    if len(text) == 15 and text.isdigit():
        return parse_date("19" + text[6:12]) is not None
    if len(text) != 18 or not text[:17].isascii() or not text[:17].isdigit():
        return False
    return check_digit(text[:17]) == text[17]


def parse_date(value: str | None) -> str | None:
    """ISO date of 2026-10-15, 2026/10/15, 2026年10月15日, 20261015; None when not a real date."""
    m = _DATE.match(_clean(value))
    if not m:
        return None
    y, mo, d = (g for g in m.groups() if g is not None)
    try:
        return dt.date(int(y), int(mo), int(d)).isoformat()
    except ValueError:
        return None


def parse_year_month(value: str | None) -> str | None:
    m = _YEAR_MONTH.match(_clean(value))
    if not m:
        return None
    y, mo = (g for g in m.groups() if g is not None)
    return f"{int(y):04d}-{int(mo):02d}" if 1 <= int(mo) <= 12 and 1900 <= int(y) <= 2100 else None


def is_phone(value: str | None) -> bool:
    text = re.sub(r"[-()]", "", _clean(value))
    return bool(_MOBILE.match(text) or _LANDLINE.match(text))


@dataclass(frozen=True)
class FieldProfile:
    """What the staged values of one field look like, as shares of its non-empty values."""

    n_values: int
    id_pass: float = 0.0
    phone: float = 0.0
    date: float = 0.0
    year_month: float = 0.0
    sex: float = 0.0
    # record_key → (share equal to the row's own value, rows where the row's own value is known)
    agreement: dict[str, tuple[float, int]] = field(default_factory=dict)


def _own_equal(key: str, value: str, own: str) -> bool:
    if key == "id_number":
        return _clean(value).upper() == _clean(own).upper()
    if key == "id_birth_date":
        return parse_date(value) == own[:10]
    if key == "id_sex":
        return _SEX.get(_clean(value)) == own
    return _clean(value) == _clean(own)


def profile_values(
    values: Sequence[str | None], own: Mapping[str, Sequence[str | None]] | None = None
) -> FieldProfile:
    """Profile one field's values; `own[key][i]` is the row's own identity value (from staging.form_records)."""
    own = own or {}
    idx = [i for i, v in enumerate(values) if _clean(v)]
    n = len(idx)
    if n == 0:
        return FieldProfile(0)
    vals = [values[i] for i in idx]

    def share(test: Iterable[bool]) -> float:
        return round(sum(test) / n, 4)

    agreement: dict[str, tuple[float, int]] = {}
    for key, column in own.items():
        pairs = [(values[i], column[i]) for i in idx if column[i] not in (None, "")]
        if pairs:
            agree = sum(_own_equal(key, v or "", str(o)) for v, o in pairs) / len(pairs)
            agreement[key] = (round(agree, 4), len(pairs))
    return FieldProfile(
        n_values=n,
        id_pass=share(id_check_ok(v) for v in vals),
        phone=share(is_phone(v) for v in vals),
        date=share(parse_date(v) is not None for v in vals),
        year_month=share(parse_year_month(v) is not None for v in vals),
        sex=share(_clean(v) in _SEX for v in vals),
        agreement=agreement,
    )


PROFILE_SAMPLE = 400


def load_profiles(
    con: duckdb.DuckDBPyConnection, sample: int = PROFILE_SAMPLE
) -> dict[tuple[str, int], FieldProfile]:
    """Profiles of every catalog field from staging.form_values, up to `sample` rows per field.

    Each value is paired with its row's own identity (staging.form_records) for the agreement shares.
    Missing staging tables give no profiles (matching then relies on labels alone).
    """
    if not (
        warehouse.table_exists(con, "staging.form_values")
        and warehouse.table_exists(con, "staging.form_records")
    ):
        return {}
    frame = warehouse.read_frame(
        con,
        f"""
        WITH v AS (
            SELECT v.form_code, v.field_order, coalesce(v.value, v.value_raw) AS value,
                   r.person_name, r.id_number, CAST(r.id_birth_date AS VARCHAR) AS id_birth_date, r.id_sex,
                   row_number() OVER (PARTITION BY v.form_code, v.field_order ORDER BY v.record_id) AS k
            FROM staging.form_values v JOIN staging.form_records r USING (record_id)
            WHERE v.field_order IS NOT NULL
        )
        SELECT * FROM v WHERE k <= {int(sample)} ORDER BY form_code, field_order, k
        """,
    )
    profiles: dict[tuple[str, int], FieldProfile] = {}
    for (form_code, field_order), part in frame.group_by(["form_code", "field_order"], maintain_order=True):
        own = {key: part[key].to_list() for key in ("person_name", "id_number", "id_birth_date", "id_sex")}
        profiles[(str(form_code), int(field_order))] = profile_values(part["value"].to_list(), own)
    return profiles


@dataclass(frozen=True)
class ProfileVerdict:
    element: str | None
    confidence: float
    implied_type: str | None
    detail: str
    other_person: bool = False


def judge_profile(
    profile: FieldProfile | None, dictionary: Dictionary, settings: MatchingSettings
) -> ProfileVerdict:
    """What the values alone say: an implied type and, when the evidence names one, an element."""
    p = settings.profile
    if profile is None or profile.n_values < p.min_values:
        return ProfileVerdict(
            None, 0.0, None, "no profile" if profile is None else f"{profile.n_values} values"
        )
    implied = next(
        (
            t
            for t, rate, thr in (
                ("id_number", profile.id_pass, p.id_pass_rate),
                ("sex", profile.sex, p.sex_rate),
                ("date", profile.date, p.date_rate),
                ("year_month", profile.year_month, p.date_rate),
                ("phone", profile.phone, p.phone_rate),
            )
            if rate >= thr
        ),
        None,
    )
    # agreement with the row's own identity names the element outright
    best: tuple[float, DataElement] | None = None
    for element in dictionary.elements:
        if element.record_key is None:
            continue
        rate, n = profile.agreement.get(element.record_key, (0.0, 0))
        if n >= p.min_values and rate >= p.self_agreement and (best is None or rate > best[0]):
            best = (rate, element)
    if best is not None:
        rate, element = best
        conf = p.strong + (0.99 - p.strong) * (rate - p.self_agreement) / max(1e-9, 1 - p.self_agreement)
        return ProfileVerdict(
            element.code, round(conf, 4), implied, f"{rate:.0%} equal to the row's own {element.record_key}"
        )
    if implied is None:
        return ProfileVerdict(None, 0.0, None, "no recognizable pattern")
    of_type = [e for e in dictionary.elements if e.type == implied]
    if implied == "id_number" and len(of_type) == 1:
        rate, n = profile.agreement.get("id_number", (0.0, 0))
        if n >= p.min_values and rate < p.other_person_agreement:
            return ProfileVerdict(
                of_type[0].code,
                0.5,
                implied,
                f"valid IDs but only {rate:.0%} are the row's own ID",
                other_person=True,
            )
        return ProfileVerdict(of_type[0].code, 0.9, implied, f"{profile.id_pass:.0%} pass the ID check digit")
    if implied == "sex" and len(of_type) == 1:
        return ProfileVerdict(of_type[0].code, 0.9, implied, f"{profile.sex:.0%} in the sex vocabulary")
    if implied == "phone" and len(of_type) == 1:
        # a phone pattern cannot tell whose phone it is: a hint, never enough on its own
        return ProfileVerdict(of_type[0].code, 0.75, implied, f"{profile.phone:.0%} look like phone numbers")
    return ProfileVerdict(None, 0.0, implied, f"values look like {implied}")


# ── one field ───────────────────────────────────────────────────────────────────────────────────────────


def types_compatible(declared: str | None, element_type: str) -> bool:
    """Declared catalog type vs element type. 文本 (text) columns may hold anything."""
    if declared in (None, "", "text") or declared == element_type:
        return True
    return any(declared in fam and element_type in fam for fam in _TYPE_FAMILIES)


def values_contradict(implied: str | None, element_type: str) -> bool:
    """Values that clearly are IDs/dates/phones/sexes cannot belong to an element of another type."""
    if implied is None or implied == element_type:
        return False
    return not any(implied in fam and element_type in fam for fam in _TYPE_FAMILIES)


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
