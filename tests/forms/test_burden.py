"""Burden arithmetic against a toy computed by hand (window = 6 months)."""

import polars as pl
import pytest

from assets.forms import burden
from assets.forms.dictionary import load_plan_settings

FORMS = pl.DataFrame(
    {
        "form_code": ["A", "B", "C"],
        "department": ["X", "Y", "X"],
        "frequency": ["monthly", "quarterly", "adhoc"],
    }
)


def _field(form, committee, order, element, deliveries, rows, covered, status):
    return {
        "form_code": form, "committee_code": committee, "district_code": "D1", "township_code": committee[:2],
        "field_order": order, "field_label": f"{form}{order}", "element_code": element, "deliveries": deliveries,
        "rows": rows, "rows_covered": covered, "status": status,
    }  # fmt: skip


PLAN = pl.DataFrame(
    [
        # K1/A, monthly, 2 deliveries of 10 rows: f1 fully covered, f2 half covered (= min_coverage → prefill), f3 typed
        _field("A", "T1K1", 1, "e1", 2, 20, 20, "prefill"),
        _field("A", "T1K1", 2, "e2", 2, 20, 10, "prefill"),
        _field("A", "T1K1", 3, "e3", 2, 20, 0, "type"),
        # K1/B, quarterly, 1 delivery of 6 rows, both fields covered → fully prefillable
        _field("B", "T1K1", 1, "e1", 1, 6, 6, "prefill"),
        _field("B", "T1K1", 2, "e4", 1, 6, 6, "prefill"),
        # K1/C, adhoc, 3 deliveries of 3 rows; a third covered (below min_coverage → still "type")
        _field("C", "T1K1", 1, "e3", 3, 9, 3, "type"),
        # K2/A (another township), 1 delivery of 4 rows, nothing covered
        _field("A", "T2K2", 1, "e1", 1, 4, 0, "type"),
        _field("A", "T2K2", 2, "e2", 1, 4, 0, "type"),
        _field("A", "T2K2", 3, "e3", 1, 4, 0, "type"),
    ]
)


def _pairs(merges=None):
    return burden.form_committee_burden(PLAN, FORMS, merges or {}, load_plan_settings(), window=6)


def test_pair_entries_by_hand():
    p = {(r["form_code"], r["committee_code"]): r for r in _pairs().iter_rows(named=True)}
    a = p[("A", "T1K1")]  # 20 rows / 2 deliveries × 1 per month = 10 rows/month; × 3 fields = 30
    assert a["rows_per_month"] == pytest.approx(10)
    assert a["entries_before"] == pytest.approx(30)
    assert a["entries_prefilled"] == pytest.approx(15)  # (20 + 10 + 0) / 2 × 1
    assert a["entries_after"] == pytest.approx(15)
    b = p[("B", "T1K1")]  # 6 rows × 1/3 per month × 2 fields = 4, all covered
    assert b["entries_before"] == pytest.approx(4, abs=1e-4)
    assert b["entries_after"] == pytest.approx(0, abs=1e-4)
    assert b["fully_prefillable"]
    c = p[("C", "T1K1")]  # adhoc: 3 deliveries / 6 months = 0.5 per month; 3 rows each → 1.5 entries
    assert c["deliveries_per_month"] == pytest.approx(0.5)
    assert c["entries_before"] == pytest.approx(1.5)
    assert c["entries_prefilled"] == pytest.approx(0.5)  # 3 covered rows / 3 deliveries × 0.5
    assert not c["fully_prefillable"]


def test_committee_and_rollups_by_hand():
    by_c = burden.burden_by_committee(PLAN, _pairs())
    k1 = by_c.filter(pl.col("committee_code") == "T1K1").row(0, named=True)
    assert (k1["forms_before"], k1["forms_after"]) == (3, 2)  # B became fully prefillable
    assert (k1["fields_before"], k1["fields_after"]) == (6, 2)  # e3 typed in A and in C (no merge)
    assert k1["entries_before"] == pytest.approx(35.5, abs=0.01)
    assert k1["entries_after"] == pytest.approx(16.0, abs=0.01)
    assert k1["share_prefilled"] == pytest.approx(19.5 / 35.5, abs=1e-3)
    k2 = by_c.filter(pl.col("committee_code") == "T2K2").row(0, named=True)
    assert (k2["entries_before"], k2["entries_after"], k2["share_prefilled"]) == (12.0, 12.0, 0.0)

    district = burden.roll_up(by_c, "district").row(0, named=True)
    assert district["committees"] == 2
    assert district["entries_before"] == pytest.approx(47.5, abs=0.01)
    assert district["entries_after"] == pytest.approx(28.0, abs=0.01)
    assert burden.roll_up(by_c, "township").height == 2

    dep = {r["department"]: r for r in burden.burden_by_department(PLAN, _pairs()).iter_rows(named=True)}
    assert (dep["X"]["forms"], dep["X"]["form_deliveries_before"], dep["X"]["fields_before"]) == (2, 3, 7)
    assert dep["X"]["fields_after"] == 5  # K1/A f3 + K1/C f1 + K2/A all three
    assert dep["X"]["entries_before"] == pytest.approx(43.5, abs=0.01)
    assert dep["X"]["entries_after"] == pytest.approx(28.0, abs=0.01)


def test_merge_counts_a_root_once():
    # C merges into A: K1 types into one form, and e3 (asked by both) is one field to type
    by_c = burden.burden_by_committee(PLAN, _pairs({"C": ("A", 0.5)}))
    k1 = by_c.filter(pl.col("committee_code") == "T1K1").row(0, named=True)
    assert (k1["forms_after"], k1["fields_after"]) == (1, 1)
    assert k1["entries_after"] == pytest.approx(16.0, abs=0.01)  # merging does not change entries


def test_frequency_from_settings(tmp_path):
    # the factor comes from schemas/forms/plan.yaml: a monthly factor of 2 doubles K1/A's entries
    text = (
        (load_plan_settings.__defaults__[0])
        .read_text(encoding="utf-8")
        .replace("monthly: 1.0", "monthly: 2.0")
    )
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    pairs = burden.form_committee_burden(PLAN, FORMS, {}, load_plan_settings(path), window=6)
    a = pairs.filter((pl.col("form_code") == "A") & (pl.col("committee_code") == "T1K1")).row(0, named=True)
    assert a["entries_before"] == pytest.approx(60)
