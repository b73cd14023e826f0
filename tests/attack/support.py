"""Helpers of the attack suite: product discovery, the public policy, the operator's ground truth.

Everything here is derived from public knowledge (the documented layout and the policy YAML) or from
the engineers' warehouse as the operator sees it (to score an attack), never from assets/publish/.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

REPO = Path(__file__).resolve().parents[2]
JIANFU = Path(sys.executable).parent / "jianfu"
POLICY_DIR = REPO / "schemas" / "policy"
TIERS = {"city": ("市", 2), "district": ("区", 6), "township": ("街镇", 9), "committee": ("居村", 12)}
TIER_BY_CN = {cn: code for code, (cn, _) in TIERS.items()}
PRODUCT_NAME = re.compile(r"^\d{2,12}(\.[A-Za-z0-9_-]+)?\.duckdb$")


# --- where the products are -------------------------------------------------------------------


def principal_root(published: Path) -> Path:
    """The folder principals are pointed at: `published/` (README), or the generation a documented
    pointer (`published/current`, a symlink or a file naming the generation folder) designates."""
    pointer = published / "current"
    if pointer.is_symlink() or pointer.is_dir():
        return pointer.resolve()
    if pointer.is_file():
        target = pointer.read_text(encoding="utf-8").strip()
        candidate = (published / target) if not Path(target).is_absolute() else Path(target)
        if candidate.is_dir():
            return candidate
    return published


def visible_products(published: Path) -> dict[tuple[str, str], Path]:
    """(tier code, jurisdiction[.suffix]) -> product file, as a principal finds them."""
    root = principal_root(published)
    found: dict[tuple[str, str], Path] = {}
    for tier in TIERS:
        for path in sorted((root / tier).glob("*.duckdb")):
            found[(tier, path.name.removesuffix(".duckdb"))] = path
    return found


def principal_facing_files(published: Path) -> list[Path]:
    """Every file a principal handed its tier folder can see (products and anything beside them)."""
    root = principal_root(published)
    return sorted(p for tier in TIERS if (root / tier).is_dir() for p in (root / tier).iterdir())


@contextmanager
def open_ro(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        yield con
    finally:
        con.close()


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [t for (t,) in rows(con, "SELECT table_name FROM duckdb_tables() ORDER BY 1")]


def columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return {c: t for c, t, *_ in rows(con, f'DESCRIBE "{table}"')}


def is_count_table(name: str) -> bool:
    return name.endswith("_counts")


# --- GB 11643 -----------------------------------------------------------------------------------

_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_CHECK = "10X98765432"


def gb11643_valid(text: str) -> bool:
    """An 18-character citizen ID whose check character is right (own routine: the attacker's)."""
    if len(text) != 18 or not text[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(text[:17], _WEIGHTS, strict=True))
    return _CHECK[total % 11] == text[17].upper()


# --- the public policy --------------------------------------------------------------------------


@dataclass
class Policy:
    rules: list[dict]
    principal_sets: list[dict]
    min_cell: int
    k: int | dict
    elements: dict[str, dict]

    @classmethod
    def load(cls) -> Policy:
        policy = yaml.safe_load((POLICY_DIR / "policy.yaml").read_text(encoding="utf-8"))
        rules = yaml.safe_load((POLICY_DIR / "rules.yaml").read_text(encoding="utf-8"))["rules"]
        sets = yaml.safe_load((POLICY_DIR / "principals.yaml").read_text(encoding="utf-8"))["principal_sets"]
        elements = yaml.safe_load((REPO / "schemas" / "data_elements.yaml").read_text(encoding="utf-8"))
        elements = elements.get("elements", elements) if isinstance(elements, dict) else elements
        min_cell = int(policy.get("min_cell", 5))
        k = _find_k(policy) or 5  # issue 9: "k in the policy; say 5 for tiers above the committee"
        return cls(rules, sets, min_cell, k, {e["code"]: e for e in elements})

    def purpose(self, tier: str) -> str | None:
        """The purpose of the tier's (non-department) principal set."""
        cn = TIERS[tier][0]
        for s in self.principal_sets:
            if s.get("tier") in (cn, tier) and not s.get("department"):
                return s.get("purpose")
        return None

    def treatment(self, tier: str, classification: str) -> str:
        """First matching rule's treatment for a tier's default principal (deny = 'hide')."""
        cn, purpose = TIERS[tier][0], self.purpose(tier)
        for rule in self.rules:
            if rule.get("departments") or rule.get("datasets"):
                continue  # narrower rules do not speak for the tier as a whole
            if rule.get("tiers") and cn not in rule["tiers"] and tier not in rule["tiers"]:
                continue
            if rule.get("purposes") and purpose not in rule["purposes"]:
                continue
            classes = rule.get("classifications") or []
            if any(c == "*" or classification == c or classification.startswith(c + ".") for c in classes):
                return str(rule["treatment"])
        return "hide"

    def k_for(self, tier: str) -> int:
        """k of a tier above the committee: the policy's (per tier when it maps tiers), else 5 (issue 9)."""
        if isinstance(self.k, dict):
            for key in (tier, TIERS[tier][0]):
                if isinstance(self.k.get(key), int):
                    return int(self.k[key])
            return 5
        return int(self.k)

    def sensitive_elements(self) -> set[str]:
        return {
            c for c, e in self.elements.items() if str(e.get("classification", "")).startswith("sensitive")
        }

    def tiers_without_sensitive_rows(self) -> list[str]:
        """Tiers that may see sensitive_personal data only as counts (or not at all)."""
        return [t for t in TIERS if self.treatment(t, "sensitive_personal") not in ("show", "partial")]

    def tiers_without_clear_ids(self) -> list[str]:
        return [t for t in TIERS if self.treatment(t, "personal.id_number") != "show"]


K_KEYS = {"k", "k_anonymity", "min_k", "k_min", "min_group", "min_persons", "min_group_size"}


def _find_k(node: object) -> int | dict | None:
    """A k-anonymity threshold anywhere in policy.yaml (key k, k_anonymity, min_k, …): an int, or a
    mapping tier -> int, if the policy states one."""
    if isinstance(node, dict):
        for key, value in node.items():
            if str(key).lower() in K_KEYS:
                if isinstance(value, int) and not isinstance(value, bool):
                    return value
                if isinstance(value, dict) and any(isinstance(v, int) for v in value.values()):
                    return value
            found = _find_k(value)
            if found:
                return found
    elif isinstance(node, list):
        for value in node:
            found = _find_k(value)
            if found:
                return found
    return None


# --- the operator's ground truth ----------------------------------------------------------------


@dataclass
class Truth:
    """Values of the engineers' warehouse, read once (read-only)."""

    warehouse: Path
    ids: set[str]
    names: set[str]
    phones: set[str]
    addresses: set[str]
    identifier_values: set[str]
    sensitive_forms: set[str]

    @classmethod
    def load(cls, warehouse: Path) -> Truth:
        policy = Policy.load()
        sens = sorted(policy.sensitive_elements())
        with open_ro(warehouse) as con:
            ids = {
                v
                for (v,) in rows(
                    con,
                    """
                SELECT id_number FROM staging.form_records WHERE id_number IS NOT NULL
                UNION SELECT id_number FROM core.persons WHERE id_number IS NOT NULL
                UNION SELECT upper(value) FROM staging.form_values WHERE field_type = 'id_number'""",
                )
                if v
            }
            ids = {i for i in ids if gb11643_valid(i)}
            names = {
                v
                for (v,) in rows(
                    con,
                    """
                SELECT person_name FROM staging.form_records UNION SELECT person_name FROM core.persons""",
                )
                if v
            }
            phones = {
                re.sub(r"\D", "", v)
                for (v,) in rows(
                    con,
                    """
                SELECT value FROM staging.form_values WHERE element_code = 'phone' OR field_type = 'phone'
                UNION SELECT phone FROM core.persons""",
                )
                if v
            }
            addresses = {
                v
                for (v,) in rows(
                    con,
                    """
                SELECT value FROM staging.form_values WHERE element_code IN ('household_address', 'residence_address')
                UNION SELECT household_address FROM core.persons
                UNION SELECT residence_address FROM core.persons""",
                )
                if v
            }
            identifier_values = {
                v
                for (v,) in rows(
                    con,
                    """
                SELECT value FROM staging.form_values
                WHERE element_code IN ('dibao_cert_no', 'citizen_id', 'phone', 'person_name', 'household_address',
                                       'residence_address', 'work_unit')
                   OR field_type IN ('id_number', 'phone')""",
                )
                if v
            }
            # A form is a sensitive roster when any of its fields is a sensitive element (its membership
            # is data of that class); issue 9 names CL01, CL02 and MZ02.
            sensitive_forms = {
                f
                for (f,) in rows(
                    con,
                    f"""
                SELECT DISTINCT form_code FROM catalog.form_fields
                WHERE element_code IN ({",".join("?" * len(sens))})""",
                    sens,
                )
            }
            sensitive_forms |= {
                f
                for (f,) in rows(
                    con,
                    f"""
                SELECT DISTINCT form_code FROM staging.form_values
                WHERE element_code IN ({",".join("?" * len(sens))})""",
                    sens,
                )
            }
        sensitive_forms |= {"CL01", "CL02", "MZ02"}
        return cls(warehouse, ids, names, phones, addresses, identifier_values | ids | names, sensitive_forms)

    @contextmanager
    def con(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with open_ro(self.warehouse) as con:
            yield con


def read_jsonl(path: Path) -> list[dict]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


def product_run_id(path: Path) -> str | None:
    with open_ro(path) as con:
        if "_product" not in tables(con):
            return None
        got = rows(con, "SELECT run_id FROM _product")
        return str(got[0][0]) if got else None
