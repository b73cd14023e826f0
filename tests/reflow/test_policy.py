"""What may be prefilled follows the access policy: 不予共享 never, 有条件 only for the form's purpose; a
committee's form never lists another committee's resident."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from assets.reflow.access import AccessGate
from assets.reflow.prefill import build_cells, decisions
from assets.reflow.roster import build_rosters
from assets.reflow.targets import load_targets

C1, C2 = "310101002001", "310101002002"


@pytest.fixture(scope="module")
def gate() -> AccessGate:
    return AccessGate()


@pytest.fixture(scope="module")
def targets():
    return load_targets()


def test_gate_follows_the_policy(gate: AccessGate) -> None:
    assert not gate.decide(C1, "religion", "数据回流").allowed  # 不予共享 in data_elements.yaml
    assert gate.decide(C1, "health_condition", "数据回流").code == "not_shared"
    assert gate.decide(C1, "phone", "数据回流").allowed  # 有条件, a rule names 数据回流 for 居村
    assert gate.decide(C1, "phone", "统计分析").code == "no_rule"  # 有条件, no rule for this purpose
    assert gate.decide(C1, "ev_charging_need", "统计分析").allowed  # 无条件 internal: any purpose
    assert gate.decide(C1, None, "数据回流").code == "no_element"


def test_not_shared_field_is_never_prefilled_even_when_held(gate: AccessGate, targets) -> None:
    # WJ01 asks 健康状况 (health_condition, 不予共享); a value is held from an earlier delivery (planted)
    fields = pl.DataFrame(
        {"form_code": ["WJ01"] * 3, "field_order": [1, 2, 8], "field_label": ["姓名", "联系电话", "健康状况"],
         "field_type": ["text", "phone", "text"], "element_code": ["person_name", "phone", "health_condition"]},
        schema_overrides={"field_order": pl.Int64},
    )  # fmt: skip
    roster = pl.DataFrame({"committee_code": [C1], "form_code": ["WJ01"], "period": ["2026"],
                           "coverage_date": [dt.date(2026, 12, 31)], "person_id": ["p1"], "seq": [1]})  # fmt: skip
    persons = pl.DataFrame({"person_id": ["p1"], "person_name": ["王芳"], "id_number": [None], "sex": ["女"],
                            "birth_date": [dt.date(1950, 1, 1)], "phone": [None], "household_address": [None],
                            "residence_address": [None]}, schema_overrides={"id_number": pl.String,
                            "phone": pl.String, "household_address": pl.String, "residence_address": pl.String})  # fmt: skip
    delivered = pl.DataFrame({"person_id": ["p1", "p1"], "element_code": ["health_condition", "phone"],
                              "d_value": ["较差", "13912345678"], "d_source": ["x.csv#3", "y.csv#4"]})  # fmt: skip
    cells = build_cells(roster, fields, persons, delivered, decisions(gate, targets, fields, C1))
    by_label = {r["field_label"]: r for r in cells.iter_rows(named=True)}
    assert by_label["健康状况"]["value"] is None and not by_label["健康状况"]["prefilled"]
    assert by_label["健康状况"]["source_detail"] == "blank:policy:not_shared"
    assert by_label["联系电话"]["value"] == "13912345678" and by_label["联系电话"]["source"] == "delivery"
    assert by_label["联系电话"]["source_detail"] == "y.csv#4"
    assert by_label["姓名"]["source"] == "golden"


def test_statistical_survey_gets_no_conditional_data(gate: AccessGate, targets) -> None:
    # TJ01's purpose is 统计分析 (targets.yaml): 有条件 personal data is not prefilled for it
    fields = pl.DataFrame({"form_code": ["TJ01"], "field_order": [1], "field_label": ["姓名"], "field_type": ["text"],
                           "element_code": ["person_name"]}, schema_overrides={"field_order": pl.Int64})  # fmt: skip
    allowed = decisions(gate, targets, fields, C1)
    assert allowed.row(0, named=True)["allowed"] is False and allowed.row(0, named=True)["why"] == "no_rule"


def test_a_committee_never_receives_another_committees_resident(targets) -> None:
    persons = pl.DataFrame(
        {"person_id": ["a1", "a2", "b1", "gone"], "committee_code": [C1, C1, C2, C2],
         "birth_date": [dt.date(1950, 1, 1)] * 4, "sex": ["男", "女", "男", "女"]})  # fmt: skip
    # planted: "gone" was on C1's last GA01 (enrolled form) and CL01 (carry-only form) but lives in C2 now
    last = pl.DataFrame({"committee_code": [C1, C1, C1], "form_code": ["GA01", "GA01", "CL01"],
                         "period": ["2026Q3", "2026Q3", "2025"], "person_id": ["a1", "gone", "gone"]})  # fmt: skip
    pairs = pl.DataFrame({"committee_code": [C1, C2, C1], "form_code": ["GA01", "GA01", "CL01"],
                          "period": ["2026Q4", "2026Q4", "2026"]})  # fmt: skip
    roster = build_rosters(pairs, last, persons, targets)
    home = dict(persons.select("person_id", "committee_code").iter_rows())
    listed = roster.filter(pl.col("status") == "on")
    assert listed.height > 0
    assert all(home[p] == c for c, p in listed.select("committee_code", "person_id").iter_rows())
    c1 = set(listed.filter(pl.col("committee_code") == C1)["person_id"])
    assert c1 == {"a1", "a2"}


def test_sex_and_birth_date_are_derived_from_the_id_when_the_golden_record_lacks_them(gate, targets) -> None:
    fields = pl.DataFrame({"form_code": ["MZ01", "MZ01"], "field_order": [4, 5], "field_label": ["性别", "出生日期"],
                           "field_type": ["sex", "date"], "element_code": ["sex", "birth_date"]},
                          schema_overrides={"field_order": pl.Int64})  # fmt: skip
    roster = pl.DataFrame({"committee_code": [C1], "form_code": ["MZ01"], "period": ["2026-11"],
                           "coverage_date": [dt.date(2026, 11, 30)], "person_id": ["p1"], "seq": [1]})  # fmt: skip
    persons = pl.DataFrame({"person_id": ["p1"], "person_name": ["夏建"], "id_number": ["310116194106034178"],
                            "sex": [None], "birth_date": [None], "phone": [None], "household_address": [None],
                            "residence_address": [None]},
                           schema_overrides={"sex": pl.String, "birth_date": pl.Date, "phone": pl.String,
                                             "household_address": pl.String, "residence_address": pl.String})  # fmt: skip
    delivered = pl.DataFrame(schema={"person_id": pl.String, "element_code": pl.String, "d_value": pl.String,
                                     "d_source": pl.String})  # fmt: skip
    cells = build_cells(roster, fields, persons, delivered, decisions(gate, targets, fields, C1))
    got = {r["field_label"]: (r["value"], r["source"]) for r in cells.iter_rows(named=True)}
    assert got == {"性别": ("男", "derived"), "出生日期": ("1941-06-03", "derived")}  # 17th digit 7: male
