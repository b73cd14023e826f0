"""Attacks 1 and 6 of issue 9: rebuild masked IDs from what is shown beside them; single people out
by quasi-identifiers. Scored against the operator's warehouse (the truth), never against the code."""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from pathlib import Path

import pytest

from tests.attack import support
from tests.attack.support import open_ro, rows

DATE_FULL = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})")
DATE_YM = re.compile(r"^(\d{4})[-/年.]?(\d{1,2})月?$")
DATE_Y = re.compile(r"^(\d{4})$")
MAX_ENUMERATION = 50_000


def _masked_pattern(value: str) -> str | None:
    """'310101********1234' -> the 18-char pattern with '?' for hidden characters, else None."""
    v = value.strip()
    if len(v) != 18 or not any(ch in v for ch in "*＊•#"):
        return None
    return "".join(ch.upper() if ch.isdigit() or ch in "Xx" and i == 17 else "?" for i, ch in enumerate(v))


def _date_fragments(value: object) -> tuple[str, ...] | None:
    """A shown birth date at whatever precision: ('1984','09','06'), ('1984','09') or ('1984',)."""
    text = str(value).strip() if value is not None else ""
    if m := DATE_FULL.match(text):
        return m.groups()
    if m := DATE_YM.match(text):
        return m.group(1), m.group(2).zfill(2)
    if m := DATE_Y.match(text):
        return (m.group(1),)
    return None


def _candidates(pattern: str, date: tuple[str, ...], sex: str | None) -> set[str] | None:
    """Every valid GB 11643 ID agreeing with the shown pattern, birth date fragment and sex."""
    fill = list(pattern)
    digits = "".join(date)
    for offset, ch in enumerate(digits):
        pos = 6 + offset
        if fill[pos] == "?":
            fill[pos] = ch
        elif fill[pos] != ch:
            return set()
    free_days = len(date) < 3
    unknown = [i for i, ch in enumerate(fill) if ch == "?" and i != 17 and not (free_days and 6 <= i < 14)]
    day_options: list[str] = [""]
    if free_days:
        year = date[0]
        months = [date[1]] if len(date) == 2 else [f"{m:02d}" for m in range(1, 13)]
        day_options = [f"{year}{m}{d:02d}" for m in months for d in range(1, 32)]
    if 10 ** len(unknown) * len(day_options) > MAX_ENUMERATION:
        return None  # too many possibilities: not a rebuild
    out: set[str] = set()
    for day in day_options:
        base = list(fill)
        if day:
            if any(base[6 + j] not in ("?", c) for j, c in enumerate(day)):
                continue
            base[6:14] = list(day)
        for combo in itertools.product("0123456789", repeat=len(unknown)):
            cand = list(base)
            for pos, d in zip(unknown, combo, strict=True):
                cand[pos] = d
            if cand[17] == "?":
                total = sum(int(d) * w for d, w in zip(cand[:17], support._WEIGHTS, strict=True))
                cand[17] = support._CHECK[total % 11]
            text = "".join(cand)
            if not support.gb11643_valid(text):
                continue
            if sex in ("男", "女") and (int(text[16]) % 2 == 1) != (sex == "男"):
                continue
            out.add(text)
    return out


def _fragments(path: Path) -> dict[str, dict[str, set]]:
    """Per entity (person when linkable, else record): masked IDs, birth-date fragments, sex — gathered
    from every table of one product (the attacker joins on record_id and person_id)."""
    frag: dict[str, dict[str, set]] = defaultdict(lambda: {"ids": set(), "dates": set(), "sex": set()})
    record_to_person: dict[str, str] = {}
    with open_ro(path) as con:
        names = support.tables(con)
        if "person_records" in names and {"person_id", "record_id"} <= set(
            support.columns(con, "person_records")
        ):
            record_to_person = {
                str(r): str(p) for p, r in rows(con, "SELECT person_id, record_id FROM person_records")
            }

        def key(record_id: object = None, person_id: object = None) -> str:
            if person_id is not None:
                return f"p:{person_id}"
            return (
                f"p:{record_to_person[str(record_id)]}"
                if str(record_id) in record_to_person
                else f"r:{record_id}"
            )

        for table in names:
            if table.startswith("_") or support.is_count_table(table):
                continue
            cols = support.columns(con, table)
            link = "person_id" if "person_id" in cols else "record_id" if "record_id" in cols else None
            if link is None:
                continue
            if {"element_code", "value"} <= set(cols):  # a long table: each row's element says what it is
                for lk, element, value in rows(con, f'SELECT "{link}", element_code, value FROM "{table}" '
                                                    "WHERE value IS NOT NULL"):  # fmt: skip
                    k = key(person_id=lk) if link == "person_id" else key(record_id=lk)
                    if element == "citizen_id" and (p := _masked_pattern(str(value))):
                        frag[k]["ids"].add(p)
                    elif element in ("birth_date", "birth_month") and (d := _date_fragments(value)):
                        frag[k]["dates"].add(d)
                    elif element == "sex":
                        frag[k]["sex"].add(str(value))
                continue
            text_cols = [c for c, t in cols.items() if t.startswith("VARCHAR") and c != link]
            date_cols = [c for c, t in cols.items() if t.startswith(("DATE", "TIMESTAMP")) or "birth" in c]
            sex_cols = [c for c in cols if c in ("sex", "id_sex")]
            part_cols = [c for c in ("birth_year", "birth_month", "birth_day") if c in cols]
            wanted = list(dict.fromkeys([link, *text_cols, *date_cols, *sex_cols, *part_cols]))
            select = ", ".join(f'"{c}"' for c in wanted)
            for row in rows(con, f'SELECT {select} FROM "{table}"'):
                rec = dict(zip(wanted, row, strict=True))
                k = key(person_id=rec[link]) if link == "person_id" else key(record_id=rec[link])
                if len(part_cols) == 3 and all(rec[c] is not None for c in part_cols):
                    y, m, d = (str(rec[c]).strip() for c in part_cols)  # separate year / month / day columns
                    if y.isdigit() and m.isdigit() and d.isdigit():
                        frag[k]["dates"].add((y[-4:], m[-2:].zfill(2), d[-2:].zfill(2)))
                for c in text_cols:
                    if rec[c] and (p := _masked_pattern(str(rec[c]))):
                        frag[k]["ids"].add(p)
                for c in date_cols:
                    if rec[c] is not None and (d := _date_fragments(rec[c])):
                        frag[k]["dates"].add(d)
                for c in sex_cols:
                    if rec[c]:
                        frag[k]["sex"].add(str(rec[c]))
    return frag


def _merge(patterns: set[str]) -> str | None:
    """The union of the characters several masks of one ID reveal (None when they disagree)."""
    out = ["?"] * 18
    for p in patterns:
        for i, ch in enumerate(p):
            if ch == "?":
                continue
            if out[i] not in ("?", ch):
                return None
            out[i] = ch
    return "".join(out)


def _rebuilt(path: Path, truth_ids: set[str]) -> tuple[int, set[str]]:
    """(entities attacked, real IDs rebuilt) for one product: a (masked ID, birth-date fragment) pair
    of one entity that leaves exactly one valid candidate rebuilds that ID."""
    attacked, rebuilt = 0, set()
    for f in _fragments(path).values():
        if not f["ids"] or not f["dates"]:
            continue
        attacked += 1
        sex = next(iter(f["sex"])) if len(f["sex"]) == 1 else None
        patterns = set(f["ids"])
        if len(patterns) > 1 and (merged := _merge(patterns)):
            patterns.add(merged)  # ID fragments shown in different tables, put together
        for pattern in patterns:
            for date in f["dates"]:
                cands = _candidates(pattern, date, sex)
                if cands is not None and len(cands) == 1 and (only := next(iter(cands))) in truth_ids:
                    rebuilt.add(only)
    return attacked, rebuilt


def test_masked_ids_cannot_be_rebuilt_from_shown_columns(products, truth, policy) -> None:
    """Attack: for every product of a tier that may not see IDs in clear, gather per person/record every
    masked ID (e.g. first 6 + last 4), every birth-date fragment (a birth-date column, `id_birth_date`,
    birth year/month values in long tables, across tables joined on record_id/person_id) and the sex,
    then enumerate the hidden digits with the GB 11643 check digit. Property: 0 full IDs recoverable
    (a unique valid candidate that is a real ID of the warehouse)."""
    tiers = policy.tiers_without_clear_ids()
    report: dict[str, int] = {}
    attacked_total, every = 0, set()
    for (tier, code), path in products.items():
        if tier not in tiers:
            continue
        attacked, rebuilt = _rebuilt(path, truth.ids)
        attacked_total += attacked
        every |= rebuilt
        if rebuilt:
            report[f"{tier}:{code}"] = len(rebuilt)
    total = len(every)
    assert total == 0, (f"{total} of {len(truth.ids)} real IDs rebuilt in {len(report)} products "
                        f"({attacked_total} masked entities attacked), e.g. {dict(list(report.items())[:5])}")  # fmt: skip


ID_RUN = r"[0-9]{17}[0-9Xx]"


def test_no_clear_valid_id_in_products_of_tiers_without_clear_ids(products, truth, policy) -> None:
    """Attack: search every cell of every table (cast to text, spaces and dashes removed) of products whose
    tier may not see IDs in clear for an 18-character run that is a valid GB 11643 ID of a real person.
    Property: none appears."""
    tiers = policy.tiers_without_clear_ids()
    leaks: dict[str, int] = {}
    for (tier, code), path in products.items():
        if tier not in tiers:
            continue
        found: set[str] = set()
        with open_ro(path) as con:
            for table in support.tables(con):
                cols = support.columns(con, table)
                parts = [f"""SELECT DISTINCT unnest(regexp_extract_all(
                             regexp_replace(CAST("{c}" AS VARCHAR), '[\\s-]', '', 'g'), '{ID_RUN}')) AS v
                             FROM "{table}" """ for c in cols]  # fmt: skip
                if parts:
                    found |= {str(v).upper() for (v,) in rows(con, " UNION ".join(parts)) if v}
        hits = {v for v in found if support.gb11643_valid(v) and v in truth.ids}
        if hits:
            leaks[f"{tier}:{code}"] = len(hits)
    assert not leaks, f"clear citizen IDs in {len(leaks)} products: {dict(list(leaks.items())[:8])}"


QUASI = {
    "committee": ("committee_code",),
    "sex": ("sex", "id_sex"),
    "birth": ("birth_date", "id_birth_date", "birth_year", "birth_month", "birth_day", "age"),
    "ethnicity": ("ethnicity",),
}
QUASI_ELEMENTS = {"sex": ("sex",), "birth": ("birth_date", "birth_month", "age"), "ethnicity": ("ethnicity",)}


def _qi_source(con, table: str) -> tuple[str, list[str]] | None:
    """(SQL with one row per shown record/person: person key `pk` + quasi-identifier columns, their names)."""
    names = support.tables(con)
    cols = support.columns(con, table)
    if {"element_code", "value", "record_id"} <= set(cols):  # long table: pivot each record's QI values
        if "person_records" not in names or "committee_code" not in cols:
            return None
        picks = [f"max(value) FILTER (WHERE element_code IN ({', '.join(repr(e) for e in els)})) AS qi_{g}"
                 for g, els in QUASI_ELEMENTS.items()]  # fmt: skip
        qi = ["committee_code", *(f"qi_{g}" for g in QUASI_ELEMENTS)]
        sql = (f'SELECT pr.person_id AS pk, v.* EXCLUDE (record_id) FROM (SELECT record_id, any_value(committee_code) '
               f'AS committee_code, {", ".join(picks)} FROM "{table}" GROUP BY record_id) AS v '
               f"JOIN person_records AS pr USING (record_id)")  # fmt: skip
        return sql, qi
    qi = [c for group in QUASI.values() for c in group if c in cols]
    if "person_id" in cols:
        return f'SELECT person_id AS pk, * FROM "{table}"', qi
    if "record_id" in cols and "person_records" in names and table != "person_records":
        return (
            f'SELECT pr.person_id AS pk, t.* FROM "{table}" AS t JOIN person_records AS pr USING (record_id)',
            qi,
        )
    if "id_number" in cols:
        return f'SELECT id_number AS pk, * FROM "{table}"', qi
    return None


@pytest.mark.parametrize("table", ["persons", "form_records", "form_values"])
def test_quasi_identifier_combinations_cover_k_persons(products, policy, table) -> None:
    """Attack: in every product above the committee tier, group the persons of a row-level table by the
    quasi-identifiers it shows (committee, sex, birth date/year/month, age, ethnicity — in a long table,
    each record's values of those elements) and count distinct persons per shown combination (person key:
    person_id, else via person_records, else the masked/hashed ID). Property: every shown combination
    covers at least k persons (k from the policy, else 5 — issue 9)."""
    worst: dict[str, str] = {}
    for (tier, code), path in products.items():
        if tier == "committee":
            continue
        k = policy.k_for(tier)
        with open_ro(path) as con:
            if table not in support.tables(con):
                continue
            src = _qi_source(con, table)
            if src is None:
                continue
            sql, qi = src
            # a QI column that is entirely NULL (nullified/hidden) says nothing: leave it out
            shown = [c for c in qi if rows(con, f'SELECT count("{c}") FROM ({sql})')[0][0] > 0]
            if len(shown) < 2:
                continue
            qsel = ", ".join(f'"{c}"' for c in shown)
            small, total, groups = rows(con, f"""
                WITH g AS (SELECT {qsel}, count(DISTINCT pk) AS n FROM ({sql}) WHERE pk IS NOT NULL GROUP BY ALL)
                SELECT coalesce(sum(n) FILTER (WHERE n < {k}), 0), coalesce(sum(n), 0),
                       count(*) FILTER (WHERE n < {k}) FROM g""")[0]  # fmt: skip
            if small:
                worst[f"{tier}:{code}"] = (
                    f"{small}/{total} persons in {groups} combinations of {shown} below k={k}"
                )
    assert not worst, f"{len(worst)} products single out persons: {dict(list(worst.items())[:5])}"
