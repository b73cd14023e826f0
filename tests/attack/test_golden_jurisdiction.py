"""Attack 5 of issue 9: golden-record values crossing jurisdictions. A principal's view of a person must
hold only values delivered inside its jurisdiction (or public): a phone or address that only another
district delivered must not reach a committee/township/district product."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict

from tests.attack import support
from tests.attack.support import open_ro, rows

# product column -> data element whose deliveries may justify it
COLUMNS = {
    "phone": "phone",
    "household_address": "household_address",
    "residence_address": "residence_address",
}
PREFIXES = ("上海市", "上海")


def _norm(kind: str, value: str) -> str:
    text = unicodedata.normalize("NFKC", str(value))
    text = re.sub(r"\s+", "", text)
    if kind == "phone":
        return re.sub(r"[^\d*]", "", text)
    for p in PREFIXES:
        if text.startswith(p):
            text = text[len(p) :]
            break
    return text


def _delivered(truth, element: str) -> dict[str, set[str]]:
    """committee code -> normalized values of `element` delivered by that committee's rows."""
    out: dict[str, set[str]] = defaultdict(set)
    with truth.con() as con:
        for committee, value, raw in rows(con, """
                SELECT r.committee_code, v.value, v.value_raw FROM staging.form_values AS v
                JOIN staging.form_records AS r USING (record_id)
                WHERE v.element_code = ? OR v.field_type = ?""", [element, element]):  # fmt: skip
            for x in (value, raw):
                if x:
                    out[str(committee)].add(_norm(element, x))
    return out


def _justified(shown: str, allowed: set[str], kind: str) -> bool:
    v = _norm(kind, shown)
    if "*" not in v:
        return v in allowed
    head, _, tail = v.partition("*")
    tail = tail.lstrip("*")
    return any(a.startswith(head) and a.endswith(tail) for a in allowed)


def test_person_values_come_from_the_principals_own_jurisdiction(products, truth) -> None:
    """Attack: for every committee, township and district product, take each clear or partially masked
    phone/address in a person-level table and look for it among the values delivered by rows of that
    principal's jurisdiction (operator's warehouse, value and value as delivered). Property: every shown
    value was delivered inside the jurisdiction — none came only from another district or township."""
    delivered = {e: _delivered(truth, e) for e in set(COLUMNS.values())}
    crossing: dict[str, int] = {}
    values_total = 0
    for (tier, code), path in products.items():
        if tier == "city":
            continue
        prefix = code.split(".")[0]
        allowed = {
            e: set().union(*(v for c, v in d.items() if c.startswith(prefix))) for e, d in delivered.items()
        }
        with open_ro(path) as con:
            for table in support.tables(con):
                if table.startswith("_") or support.is_count_table(table):
                    continue
                cols = support.columns(con, table)
                for col, element in COLUMNS.items():
                    if col not in cols:
                        continue
                    for (v,) in rows(
                        con, f'SELECT DISTINCT "{col}" FROM "{table}" WHERE "{col}" IS NOT NULL'
                    ):
                        values_total += 1
                        if not _justified(str(v), allowed[element], element):
                            crossing[f"{tier}:{code}"] = crossing.get(f"{tier}:{code}", 0) + 1
    assert values_total, "no phone/address column found in any product: the attack saw nothing"
    n = sum(crossing.values())
    assert n == 0, (f"{n} values delivered only outside the jurisdiction in {len(crossing)} products "
                    f"(of {values_total} shown), e.g. {dict(list(crossing.items())[:6])}")  # fmt: skip
