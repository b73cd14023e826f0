"""What do a field's staged values say it is? Value parsers, per-field profiles, and their verdict.

Why a module of its own: value profiling (ID check digit, phone pattern, dates, sex vocabulary, agreement
with the row's own identity) is the evidence the matcher (assets/forms/matching.py) weighs against the label.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import duckdb

from assets.common import warehouse
from assets.common.gb11643 import check_digit
from assets.forms.dictionary import DataElement, Dictionary, MatchingSettings

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


_TYPE_FAMILIES = ({"date", "year_month"}, {"integer", "decimal"})


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
