"""Committee lookups: which division a committee cell or a file name means.

District-wide files name committees by 12-digit code or by name; names come with and without their kind
(云南中路居委会 / 云南中路居委 / 云南中路社区) and sometimes need their 街镇 to be unique.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from assets.ingest.layout import label_key
from assets.ingest.rules import DeliveryRules, load_delivery_rules


@dataclass
class Divisions:
    """Committee lookups used to resolve the committee column of district-wide files."""

    committees: set[str]
    by_name: dict[tuple[str, str], list[str]]  # (district_code, committee name key) → codes
    by_township_name: dict[tuple[str, str, str], str]  # (district, township key, committee key) → code
    by_core: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (district, 云南中路) → codes
    districts: dict[str, str] = field(default_factory=dict)  # district code → name
    rules: DeliveryRules | None = None

    @classmethod
    def from_frame(cls, divisions: pl.DataFrame, rules: DeliveryRules | None = None) -> Divisions:
        rules = rules or load_delivery_rules()
        by_name: dict[tuple[str, str], list[str]] = {}
        by_township: dict[tuple[str, str, str], str] = {}
        by_core: dict[tuple[str, str], list[str]] = {}
        districts: dict[str, str] = {}
        for row in divisions.iter_rows(named=True):
            key = (row["district_code"], label_key(row["committee_name"]))
            by_name.setdefault(key, []).append(row["committee_code"])
            by_township[
                (row["district_code"], label_key(row["township_name"]), label_key(row["committee_name"]))
            ] = row["committee_code"]
            core = (row["district_code"], rules.committee_core(label_key(row["committee_name"])))
            by_core.setdefault(core, []).append(row["committee_code"])
            districts.setdefault(row["district_code"], row.get("district_name") or "")
        return cls(set(divisions["committee_code"]), by_name, by_township, by_core, districts, rules)

    def resolve(
        self, district: str, committee_cell: str, township_cell: str | None
    ) -> tuple[str | None, str | None]:
        """(committee_code, problem): a 12-digit code or a name unique in the district (or its 街镇)."""
        value = label_key(committee_cell)
        if not value:
            return None, "committee cell is empty"
        if value.isdigit() and len(value) == 12:
            if value in self.committees and value.startswith(district):
                return value, None
            return None, f"committee code {value} is not a division of district {district}"
        if township_cell and label_key(township_cell):
            code = self.by_township_name.get((district, label_key(township_cell), value))
            if code:
                return code, None
        codes = self.by_name.get((district, value), [])
        if not codes and self.rules is not None:  # X居委 / X社区 / X居民委员会 for X居委会
            # the core as written (新村 for 新村居委会) before the core with one more ending removed (新)
            codes = self.by_core.get((district, value)) or self.by_core.get(
                (district, self.rules.committee_core(value)), []
            )
        if len(codes) == 1:
            return codes[0], None
        if not codes:
            return None, f"no committee named '{committee_cell.strip()}' in district {district}"
        return (
            None,
            f"committee name '{committee_cell.strip()}' is ambiguous in district {district} ({len(codes)} matches)",
        )
