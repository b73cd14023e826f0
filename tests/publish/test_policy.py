"""Policy tests: table-driven (principal, dataset, column[, element]) -> treatment, deny-by-default, validation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from assets.common import paths
from assets.publish.policy import (
    Policy,
    PolicyError,
    Principal,
    Tier,
    load_policy,
    parse_principal_ref,
    principals_for,
)

POLICY_DIR = paths.SCHEMAS_DIR / "policy"

CITY = Principal(tier=Tier.CITY, jurisdiction="31", purpose="统计分析")
DISTRICT = Principal(tier=Tier.DISTRICT, jurisdiction="310101", purpose="数据回流")
TOWNSHIP = Principal(tier=Tier.TOWNSHIP, jurisdiction="310101002", purpose="数据回流")
COMMITTEE = Principal(tier=Tier.COMMITTEE, jurisdiction="310101002001", purpose="数据回流")
# A district principal with a purpose no personal-data rule names: only internal data reaches it.
DISTRICT_OTHER_PURPOSE = Principal(tier=Tier.DISTRICT, jurisdiction="310101", purpose="业务协同")
# A committee principal without any purpose: conditional (有条件) personal data needs one.
COMMITTEE_NO_PURPOSE = Principal(tier=Tier.COMMITTEE, jurisdiction="310101002001")

# (principal, dataset, column, element, expected action, expected reason code)
SHIPPED_CASES = [
    # direct identifiers: clear only for the committee that collected them
    (COMMITTEE, "form_records", "id_number", None, "show", "rule"),
    (TOWNSHIP, "form_records", "id_number", None, "partial", "rule"),
    (DISTRICT, "form_records", "id_number", None, "keyed_hash", "rule"),
    (CITY, "form_records", "id_number", None, "keyed_hash", "rule"),
    (DISTRICT, "form_records", "id_number_raw", None, "keyed_hash", "rule"),
    (TOWNSHIP, "form_records", "person_name", None, "show", "rule"),
    (DISTRICT, "form_records", "person_name", None, "partial", "rule"),
    (CITY, "form_records", "person_name", None, "hide", "hidden_by_rule"),
    (DISTRICT, "form_records", "id_birth_date", None, "year_only", "rule"),
    (CITY, "form_records", "id_birth_date", None, "year_only", "rule"),
    (DISTRICT, "form_records", "id_sex", None, "show", "rule"),
    (CITY, "form_records", "committee_code", None, "show", "rule"),
    # long table: each value classified by its data element
    (DISTRICT, "form_values", "value", "phone", "partial", "rule"),
    (CITY, "form_values", "value", "phone", "nullify", "rule"),
    (DISTRICT, "form_values", "value", "residence_address", "partial", "rule"),
    (CITY, "form_values", "value", "residence_address", "hide", "hidden_by_rule"),
    (DISTRICT, "form_values", "value", "ethnicity", "nullify", "rule"),
    (DISTRICT, "form_values", "value", "disability_category", "aggregate", "rule"),
    (TOWNSHIP, "form_values", "value", "disability_category", "aggregate", "rule"),
    (COMMITTEE, "form_values", "value", "disability_category", "show", "rule"),
    (DISTRICT, "form_values", "value", "ev_charging_need", "show", "rule"),
    # deny by default
    (COMMITTEE, "form_values", "value", "health_condition", "deny", "not_shared"),  # 不予共享, even for 居村
    (CITY, "form_values", "value", "health_condition", "deny", "not_shared"),
    (DISTRICT, "form_values", "value", None, "deny", "unclassified_column"),  # a field with no element
    (DISTRICT, "form_values", "value", "guardian_id_x", "deny", "unclassified_column"),  # unknown element
    (DISTRICT, "persons", "golden_method", None, "deny", "unclassified_column"),  # column not listed
    (DISTRICT, "form_records", "secret_note", None, "deny", "unclassified_column"),
    (DISTRICT, "no_such_dataset", "x", None, "deny", "unknown_dataset"),
    (DISTRICT_OTHER_PURPOSE, "form_records", "person_name", None, "deny", "no_rule"),
    (DISTRICT_OTHER_PURPOSE, "form_records", "form_code", None, "show", "rule"),
    (COMMITTEE_NO_PURPOSE, "form_records", "id_number", None, "deny", "no_rule"),
    # pseudonymous person keys: a stable join key above the committee
    (DISTRICT, "persons", "person_id", None, "keyed_hash", "rule"),
    (TOWNSHIP, "persons", "person_id", None, "keyed_hash", "rule"),
    (COMMITTEE, "persons", "person_id", None, "show", "rule"),
]


@pytest.mark.parametrize(
    ("principal", "dataset", "column", "element", "action", "code"),
    SHIPPED_CASES,
    ids=[f"{p.ref}-{d}.{c}-{e or ''}" for p, d, c, e, _, _ in SHIPPED_CASES],
)
def test_shipped_policy_treatments(
    policy: Policy,
    principal: Principal,
    dataset: str,
    column: str,
    element: str | None,
    action: str,
    code: str,
) -> None:
    t = policy.resolve(principal, dataset, column, element)
    assert (t.action, t.code) == (action, code), t.reason
    assert t.reason  # every decision says why


def test_shipped_policy_loads_with_the_real_dictionary() -> None:
    policy = load_policy(POLICY_DIR, paths.SCHEMAS_DIR / "data_elements.yaml")
    assert {"form_records", "form_values", "persons", "divisions", "forms"} <= set(policy.datasets)
    # no element classified 不予共享 is shown to anyone, whatever the dictionary holds today
    for elem in policy.elements.values():
        if elem.sharing is not None and elem.sharing.value == "不予共享":
            for p in (CITY, DISTRICT, TOWNSHIP, COMMITTEE):
                assert policy.resolve(p, "form_values", "value", elem.code).action == "deny"


def test_no_tier_above_committee_sees_a_clear_id_in_the_shipped_policy(policy: Policy) -> None:
    for p in (CITY, DISTRICT, TOWNSHIP):
        for ds, col in (
            ("form_records", "id_number"),
            ("form_records", "id_number_raw"),
            ("persons", "id_number"),
        ):
            assert policy.resolve(p, ds, col).action != "show"
        assert policy.resolve(p, "form_values", "value", "citizen_id").action != "show"


# ---------------------------------------------------------------------------------- synthetic policy


def _write_policy(tmp: Path, mutate) -> Path:  # noqa: ANN001
    """Copy the shipped policy to tmp and let `mutate(docs)` change the parsed YAML."""
    out = tmp / "policy"
    shutil.copytree(POLICY_DIR, out)
    docs = {
        n: yaml.safe_load((out / n).read_text(encoding="utf-8"))
        for n in ("policy.yaml", "rules.yaml", "principals.yaml", "datasets.yaml")
    }
    mutate(docs)
    for name, doc in docs.items():
        (out / name).write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


def test_deny_by_default_mechanics(tmp_path: Path, dictionary_path: Path) -> None:
    def mutate(docs: dict) -> None:
        ds = docs["datasets.yaml"]["datasets"]
        ds.append(
            {
                "name": "no_sharing",  # planted: a dataset without a sharing category
                "sources": [{"table": "staging.form_records"}],
                "jurisdiction": "committee_code",
                "columns": {"committee_code": "internal", "form_code": "internal"},
            }
        )
        ds.append(
            {
                "name": "dates",
                "sources": [{"table": "staging.form_records"}],
                "sharing": "有条件",
                "jurisdiction": "committee_code",
                "columns": {
                    "committee_code": "internal",
                    "period": {"note": "listed, but nobody classified it"},  # planted: no classification
                    "id_birth_date": {"classification": "personal.birthday", "semantic": "date"},
                    "remark": {"classification": "personal.remark"},
                },
            }
        )
        rules = docs["rules.yaml"]["rules"]
        # planted: partial on a date (does not apply) and aggregate on a dataset without an aggregate spec
        rules.insert(
            0,
            {
                "id": "bad-partial",
                "tiers": ["区"],
                "classifications": ["personal.birthday"],
                "treatment": "partial",
            },
        )
        rules.insert(
            0,
            {
                "id": "bad-agg",
                "tiers": ["区"],
                "classifications": ["personal.remark"],
                "treatment": "aggregate",
            },
        )
        # first match wins: this later, more specific rule must never apply
        rules.append(
            {"id": "late-show", "tiers": ["区"], "classifications": ["personal.name"], "treatment": "show"}
        )

    policy = load_policy(_write_policy(tmp_path, mutate), dictionary_path)
    assert policy.resolve(DISTRICT, "no_sharing", "form_code").code == "no_sharing_category"
    assert policy.resolve(DISTRICT, "dates", "period").code == "unclassified_column"
    assert policy.resolve(DISTRICT, "dates", "id_birth_date").code == "mask_not_applicable"
    assert policy.resolve(DISTRICT, "dates", "remark").code == "aggregate_without_spec"
    assert policy.resolve(DISTRICT, "form_records", "person_name").action == "partial"  # not late-show


def test_policy_version_ignores_layout_but_not_content(tmp_path: Path, dictionary_path: Path) -> None:
    base = load_policy(POLICY_DIR, dictionary_path).version
    same = tmp_path / "same"
    shutil.copytree(POLICY_DIR, same)
    rules = same / "rules.yaml"
    rules.write_text("# a new comment\n\n" + rules.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_policy(same, dictionary_path).version == base
    changed = _write_policy(tmp_path, lambda d: d["policy.yaml"].update({"min_cell": 7}))
    assert load_policy(changed, dictionary_path).version != base


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["rules.yaml"]["rules"].append({"id": "x", "tiers": ["省"], "classifications": ["internal"], "treatment": "show"}),
         ["rules.yaml", "rules[", "id=x"]),
        (lambda d: d["rules.yaml"]["rules"].append({"id": "leak", "sharing": ["不予共享"], "classifications": ["*"], "treatment": "show"}),
         ["rules.yaml", "id=leak", "不予共享"]),
        (lambda d: d["rules.yaml"]["rules"].append({"id": "typo", "classifications": ["persnal"], "treatment": "show"}),
         ["rules.yaml", "'typo'", "persnal"]),
        (lambda d: d["rules.yaml"]["rules"].append({"id": "p", "purposes": ["闲聊"], "classifications": ["internal"], "treatment": "show"}),
         ["rules.yaml", "'p'", "闲聊"]),
        (lambda d: d["rules.yaml"]["rules"].append(dict(d["rules.yaml"]["rules"][0])),
         ["rules.yaml", "duplicate rule id"]),
        (lambda d: d["datasets.yaml"]["datasets"][0]["columns"].pop("committee_code"),
         ["datasets.yaml", "name=form_records", "jurisdiction column"]),
        (lambda d: d["datasets.yaml"]["datasets"][0]["columns"].update({"person_name": {"element": "no_such_element"}}),
         ["datasets.yaml", "'form_records'", "no_such_element"]),
        (lambda d: d["principals.yaml"]["principal_sets"].append({"id": "bad", "tier": "区", "jurisdictions": ["3101"]}),
         ["principals.yaml", "id=bad", "6-digit"]),
        (lambda d: d["datasets.yaml"]["datasets"][0].update({"sharing": "随便"}),
         ["datasets.yaml", "name=form_records", "sharing"]),
    ],
    ids=["unknown-tier", "rule-on-not-shared", "unknown-level", "undeclared-purpose", "duplicate-rule",
         "jurisdiction-unlisted", "unknown-element", "bad-jurisdiction-digits", "bad-sharing"],
)  # fmt: skip
def test_invalid_policy_names_file_and_entry(
    tmp_path: Path, dictionary_path: Path, mutate, expected: list[str]
) -> None:  # noqa: ANN001
    with pytest.raises(PolicyError) as err:
        load_policy(_write_policy(tmp_path, mutate), dictionary_path)
    for fragment in expected:
        assert fragment in str(err.value)


def test_unreadable_yaml_names_the_file(tmp_path: Path, dictionary_path: Path) -> None:
    out = tmp_path / "p"
    shutil.copytree(POLICY_DIR, out)
    (out / "principals.yaml").write_text("principal_sets: [\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="principals.yaml"):
        load_policy(out, dictionary_path)


@pytest.mark.parametrize(
    ("text", "relpath"),
    [
        ("district:310101", "district/310101.duckdb"),
        ("区:310101", "district/310101.duckdb"),
        ("township:310101002", "township/310101002.duckdb"),
        ("街镇:310101002", "township/310101002.duckdb"),
        ("committee:310101002001", "committee/310101002001.duckdb"),
        ("city:31", "city/31.duckdb"),
        ("district:310101/mz", "district/310101.mz.duckdb"),
    ],
)
def test_parse_principal_ref(text: str, relpath: str) -> None:
    assert parse_principal_ref(text).product_relpath == relpath


@pytest.mark.parametrize(
    "text", ["district:31010", "town:310101002", "district", "township:310101", "district:31010a"]
)
def test_parse_principal_ref_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_principal_ref(text)


def test_principals_from_present_jurisdictions(policy: Policy) -> None:
    present = ["310101002001", "310101002002", "310104003001", None, "bad"]  # planted: junk codes are ignored
    refs = [p.ref for p in principals_for(policy, present)]
    assert refs == [
        "city:31",
        "district:310101",
        "district:310104",
        "township:310101002",
        "township:310104003",
        "committee:310101002001",
        "committee:310101002002",
        "committee:310104003001",
    ]


def test_principal_jurisdiction_must_match_tier() -> None:
    with pytest.raises(ValueError, match="6-digit"):
        Principal(tier=Tier.DISTRICT, jurisdiction="310101002")
