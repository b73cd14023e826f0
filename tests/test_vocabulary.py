"""Every vocabulary the suites, schemas, policy and docs name is the one in assets/common/vocabulary.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from assets.common import vocabulary
from assets.common.expectations import SUITES_DIR, load_suite_json
from assets.ingest import catalog, normalize

ROOT = Path(__file__).resolve().parents[1]


def test_suites_name_vocabularies_not_copies_of_them() -> None:
    for path in sorted(SUITES_DIR.glob("*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        for e in raw["expectations"]:
            value_set = e["kwargs"].get("value_set")
            if value_set is None:
                continue
            # a literal list that equals (or is a subset of) a vocabulary is a copy that will drift
            assert isinstance(value_set, dict), f"{path.name}: {e['kwargs']['column']} copies a vocabulary"
            assert vocabulary.vocabulary(value_set["vocabulary"])
        resolved = load_suite_json(path.stem)
        for e in resolved["expectations"]:
            assert not isinstance(e["kwargs"].get("value_set"), dict)


def test_code_reexports_the_contract_instead_of_redefining_it() -> None:
    assert normalize.FIELD_TYPES is vocabulary.FIELD_TYPES
    assert normalize.ID_STATUSES is vocabulary.ID_STATUSES
    assert catalog.FIELD_TYPES is vocabulary.FIELD_TYPE_LABELS


def test_data_element_types_are_field_types() -> None:
    document = yaml.safe_load((ROOT / "schemas" / "data_elements.yaml").read_text(encoding="utf-8"))
    elements = document["elements"] if isinstance(document, dict) and "elements" in document else document
    types = {
        e["type"] for e in (elements.values() if isinstance(elements, dict) else elements) if "type" in e
    }
    assert types and types <= set(vocabulary.FIELD_TYPES), types - set(vocabulary.FIELD_TYPES)


def test_policy_sql_names_only_known_field_types() -> None:
    for path in sorted((ROOT / "schemas" / "policy").glob("*.yaml")):
        for value in re.findall(r"field_type\s*=\s*'([^']+)'", path.read_text(encoding="utf-8")):
            assert value in vocabulary.FIELD_TYPES, f"{path.name} names field type {value!r}"


def _listed(text: str, anchor: str) -> set[str]:
    """The backticked or slash-separated values listed right after `anchor` in a doc line."""
    at = text.index(anchor) + len(anchor)
    chunk = text[at : text.index(")", at)]
    return set(re.findall(r"`([a-z_0-9]+)`", chunk)) or {v.strip() for v in chunk.strip(" (").split("/")}


def test_docs_list_exactly_the_file_statuses_and_id_statuses() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    contracts = (ROOT / "docs" / "CONTRACTS.md").read_text(encoding="utf-8")
    assert _listed(readme, "status (") == set(vocabulary.FILE_STATUSES)
    assert _listed(contracts, "status (") == set(vocabulary.FILE_STATUSES)
    assert _listed(contracts, "id_status (") == set(vocabulary.ID_STATUSES)
