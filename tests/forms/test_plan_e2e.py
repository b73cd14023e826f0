"""End to end on a tiny warehouse (tests/forms/toy_warehouse.py): matching → overlap → plan → burden."""

import shutil

import polars as pl
import pytest

from assets.common import warehouse
from assets.forms import pipeline, plan, validate
from assets.forms.pipeline import SchemaPaths

from .toy_warehouse import C1, C2, build


@pytest.fixture()
def toy(tmp_path):
    return build(tmp_path / "toy.duckdb")


def _run(path, schemas=None):
    with warehouse.connect(path) as con:
        pipeline.run_all(con, schemas or SchemaPaths())
        tables = {
            t: warehouse.read_frame(con, f"SELECT * FROM {t}")
            for t in ("catalog.form_fields", "catalog.field_review", "catalog.form_overlap", "marts.prefill_plan",
                      "marts.form_plan", "marts.burden_by_committee", "marts.burden_by_department")
        }  # fmt: skip
        tables["headline"] = pipeline.headline(con)
        tables["catalog_fields"] = pipeline.catalog_fields(con)
    return tables


def _field(t, form, committee, label):
    plan_ = t["marts.prefill_plan"]
    return plan_.filter(
        (pl.col("form_code") == form)
        & (pl.col("committee_code") == committee)
        & (pl.col("field_label") == label)
    ).row(0, named=True)


def test_plan_on_toy(toy):
    t = _run(toy)
    ff = t["catalog.form_fields"]
    zj = ff.filter((pl.col("form_code") == "ZJ01") & (pl.col("field_label") == "识别码")).row(0, named=True)
    assert (zj["element_code"], zj["method"]) == ("citizen_id", "profile")  # only the values say it is an ID

    # WJ01 collects first: everything is typed
    wj = t["marts.prefill_plan"].filter(pl.col("form_code") == "WJ01")
    assert set(wj["status"]) == {"type"} and set(wj["reason"]) == {"first_collection"}
    # MZ01 reuses WJ01's facts and derives 性别/出生日期 from the ID in the same row (also for new resident p3)
    sex = _field(t, "MZ01", C1, "性别")
    assert sex["status"] == "prefill" and sex["rows_derived"] == sex["rows"] == 3
    name = _field(t, "MZ01", C1, "姓名")
    assert name["status"] == "prefill" and "WJ01" in name["source_forms"]
    assert _field(t, "MZ01", C1, "高龄补贴金额")["reason"] == "first_collection"
    # CL01: 不予共享 never prefills; candidate, review and not-element fields are typed
    assert _field(t, "CL01", C1, "健康状况")["reason"] == "not_shareable"
    assert _field(t, "CL01", C1, "残疾人证号")["reason"] == "candidate_element"
    assert _field(t, "CL01", C1, "户口地址")["reason"] == "in_review"
    assert _field(t, "CL01", C1, "备注")["reason"] == "not_element"
    # C2's second monthly MZ01 delivery is not prefilled from the first (own periods do not count)
    c2 = _field(t, "MZ01", C2, "姓名")
    assert (c2["rows"], c2["rows_covered"], c2["deliveries"]) == (2, 0, 2)

    fp = {r["form_code"]: r for r in t["marts.form_plan"].iter_rows(named=True)}
    assert fp["MZ02"]["fully_prefillable"] and fp["MZ02"]["merge_into"] == "MZ01"
    assert not fp["WJ01"]["fully_prefillable"] and fp["WJ01"]["merge_into"] is None

    h = t["headline"]
    print("\n" + pipeline.format_headline(h))
    assert h["forms_before"] == 5 and h["forms_after"] < h["forms_before"]
    assert 0 < h["entries_per_month_after"] < h["entries_per_month_before"]
    assert h["example_committee"]["committee_code"] == C1

    assert validate.fields_accounted(t["catalog_fields"], ff, t["catalog.field_review"]).passed
    assert validate.sharing_respected(t["marts.prefill_plan"]).passed
    assert validate.burden_not_increased(t["marts.burden_by_committee"]).passed


def _copy_schemas(tmp_path) -> SchemaPaths:
    default = SchemaPaths()
    out = {}
    for name in ("dictionary", "overrides", "matching", "plan"):
        src = getattr(default, name)
        out[name] = tmp_path / src.name
        shutil.copy(src, out[name])
    return SchemaPaths(**out)


def test_synonym_change_changes_plan_without_code(toy, tmp_path):
    schemas = _copy_schemas(tmp_path)
    before = _field(_run(toy, schemas), "CL01", C1, "户口地址")
    assert before["status"] == "type" and before["reason"] == "in_review"
    text = schemas.dictionary.read_text(encoding="utf-8")
    schemas.dictionary.write_text(text.replace("户籍详址]", "户籍详址, 户口地址]"), encoding="utf-8")
    after = _field(_run(toy, schemas), "CL01", C1, "户口地址")
    assert (
        after["element_code"] == "household_address" and after["status"] == "prefill"
    )  # p1's held from WJ01


def test_override_change_changes_plan_without_code(toy, tmp_path):
    schemas = _copy_schemas(tmp_path)
    with schemas.overrides.open("a", encoding="utf-8") as fh:
        fh.write("  - {form_code: CL01, field_label: 户口地址, element_code: household_address, "
                 "reason: same as 户籍地址, reviewer: tester, reviewed_at: 2026-11-26}\n")  # fmt: skip
    t = _run(toy, schemas)
    row = t["catalog.form_fields"].filter(pl.col("field_label") == "户口地址").row(0, named=True)
    assert (row["method"], row["element_code"]) == ("override", "household_address")
    assert t["catalog.field_review"].filter(pl.col("field_label") == "户口地址").is_empty()
    assert _field(t, "CL01", C1, "户口地址")["status"] == "prefill"


def test_reuse_own_periods_setting(toy, tmp_path):
    schemas = _copy_schemas(tmp_path)
    text = schemas.plan.read_text(encoding="utf-8").replace(
        "reuse_own_earlier_periods: false", "reuse_own_earlier_periods: true"
    )
    schemas.plan.write_text(text, encoding="utf-8")
    c2 = _field(_run(toy, schemas), "MZ01", C2, "姓名")
    assert c2["rows_covered"] == 1  # November's row reuses October's


def test_period_bounds():
    import datetime as dt

    assert plan.period_bounds("2026-02") == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert plan.period_bounds("2026Q3") == (dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    assert plan.period_bounds("2026") == (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert plan.period_bounds("2026-10-15") == (dt.date(2026, 10, 15),) * 2
    assert plan.period_bounds("2026-13") is None and plan.period_bounds("Q3") is None


def test_merge_chain_resolves_to_root():
    rows = [  # C ⊂ B ⊂ A: C → B → A, and never A → B
        ("A", "B", 5, 4, 0.8, True), ("B", "C", 4, 3, 0.75, True), ("A", "C", 5, 3, 0.6, False),
    ]  # fmt: skip
    ov = pl.DataFrame(rows, schema=["form_a", "form_b", "n_elements_a", "n_elements_b", "jaccard", "merge_candidate"],
                      orient="row")  # fmt: skip
    assert plan.merge_targets(ov) == {"B": ("A", 0.8), "C": ("A", 0.75)}


def test_validators_catch_planted_defects():
    # planted: a 不予共享 field marked prefill, and a committee whose entries grew
    bad_plan = pl.DataFrame({"status": ["prefill", "prefill"], "sharing": ["不予共享", "有条件"],
                             "mapping_status": ["mapped", "mapped"]})  # fmt: skip
    out = validate.sharing_respected(bad_plan)
    assert not out.passed and out.failing == 1 and "50.0%" in out.description
    bad_burden = pl.DataFrame({"entries_before": [10.0, 5.0], "entries_after": [11.0, 5.0], "fields_before": [3, 3],
                               "fields_after": [3, 3], "forms_before": [1, 1], "forms_after": [1, 1]})  # fmt: skip
    assert validate.burden_not_increased(bad_burden).failing == 1
    # planted: a catalog field with no mapping row at all
    cat = pl.DataFrame({"form_code": ["F", "F"], "field_order": [1, 2], "field_label": ["a", "b"]})
    ff = pl.DataFrame({"form_code": ["F"], "field_order": [1], "status": ["mapped"], "element_code": ["x"]})
    review = pl.DataFrame(schema={"form_code": pl.String, "field_order": pl.Int64})
    out = validate.fields_accounted(cat, ff, review)
    assert not out.passed and out.examples["field_label"].to_list() == ["b"]


def test_rows_without_an_id_are_keyed_by_resolved_persons(toy):
    # planted: CL01's row of p1 at C1 lost its ID everywhere (no id_number, blank 公民身份号码 cell)
    with warehouse.connect(toy) as con:
        rid = con.execute(
            "SELECT record_id FROM staging.form_records WHERE form_code = 'CL01' AND person_name = '居民1'"
        ).fetchall()[0][0]
        con.execute("UPDATE staging.form_records SET id_number = NULL WHERE record_id = ?", [rid])
        con.execute("UPDATE staging.form_values SET value = NULL, value_raw = '' WHERE record_id = ? AND field_order = 2",
                    [rid])  # fmt: skip
    by_id = _field(_run(toy), "CL01", C1, "姓名")
    assert (by_id["rows"], by_id["rows_covered"]) == (2, 1)  # p1's row cannot be keyed by ID
    with warehouse.connect(toy) as con:  # entity resolution knows who the row is about
        con.execute("CREATE TABLE core.person_records AS SELECT record_id, 'P-' || person_name AS person_id "
                    "FROM staging.form_records")  # fmt: skip
    by_er = _field(_run(toy), "CL01", C1, "姓名")
    assert by_er["rows_covered"] == 2


def test_id_found_by_profile_keys_rows(toy):
    t = _run(toy)
    zj = _field(t, "ZJ01", C1, "姓名")  # ZJ01 rows have no id_number; the 识别码 values key them
    assert zj["rows_covered"] > 0


def test_window_ignores_year_periods_when_shorter_exist():
    # 2026Q3 (Jul-Sep) to 2026-10: 4 months; the annual "2025" does not stretch it
    assert plan.window_months(plan.periods_frame(["2025", "2026Q3", "2026-10", "2026-08-21"])) == 4
    assert plan.window_months(plan.periods_frame(["2025", "2026"])) == 24
