"""Field matching: normalization, similarity, profiling, the decision rules, and P/R on the labelled set."""

import polars as pl
import pytest

from assets.forms import dictionary as d
from assets.forms import matching
from synth.forms import evaluate


@pytest.fixture(scope="module")
def setup():
    dic = d.load_dictionary()
    return dic, d.load_overrides(dic), d.load_matching_settings()


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("身份证号（18位）", "身份证号"),
        ("身份证号码(必填)", "身份证号"),
        ("老人的联系电话", "联系电话"),
        ("是否独居", "独居"),
        (" 户籍 详细地址 ", "户籍地址"),
        ("婚姻情况", "婚姻状况"),
        ("人员", "人员"),  # a prefix is never stripped down to nothing
    ],
)
def test_normalize_label(setup, label, expected):
    assert matching.normalize_label(label, setup[2]) == expected


def test_head_final_similarity(setup):
    s = setup[2]
    # 本人电话 is a kind of 电话; 姓名拼音 is not a kind of 姓名
    assert matching.similarity("本人电话", "电话", s) > 0.9
    assert matching.similarity("姓名拼音", "姓名", s) < s.thresholds.review


def test_id_check_digit():
    good = evaluate.make_id("310101", __import__("datetime").date(1950, 3, 2), 123)
    assert matching.id_check_ok(good)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")  # planted: wrong check digit
    assert not matching.id_check_ok(bad)
    assert not matching.id_check_ok("3101011950030212")  # 16 digits


def test_profile_values_and_agreement():
    people = evaluate.synthetic_people(6)
    own = {c: people[c].to_list() for c in people.columns}
    p = matching.profile_values(
        people["id_number"].to_list() + [None], {k: v + [None] for k, v in own.items()}
    )
    assert p.n_values == 6 and p.id_pass == 1.0
    assert p.agreement["id_number"] == (1.0, 6)
    dates = matching.profile_values([x.replace("-", "年", 1).replace("-", "月") + "日" for x in own["id_birth_date"]],
                                    own)  # fmt: skip
    assert dates.date == 1.0 and dates.agreement["id_birth_date"][0] == 1.0


def _one(setup, label, ftype="text", profile=None, form="F1"):
    dic, ov, s = setup
    return matching.match_field(form, 1, label, ftype, dic, ov, s, profile=profile)


def test_values_beat_a_meaningless_label(setup):
    people = evaluate.synthetic_people(8)
    own = {c: people[c].to_list() for c in people.columns}
    m = _one(setup, "识别码", profile=matching.profile_values(people["id_number"].to_list(), own))
    assert (m.element_code, m.method, m.status) == ("citizen_id", "profile", "mapped")


def test_someone_elses_ids_are_not_the_rows_id(setup):
    own = evaluate.synthetic_people(8)
    other = evaluate.synthetic_people(8, offset=50)
    prof = matching.profile_values(other["id_number"].to_list(), {c: own[c].to_list() for c in own.columns})
    m = _one(setup, "编号", profile=prof)  # valid IDs, but not the row's own: never mapped automatically
    assert m.status == "review" and m.element_code is None and m.suggested_element == "citizen_id"


def test_other_person_label_becomes_candidate(setup):
    m = _one(setup, "监护人身份证号", "id_number")
    assert m.status == "candidate" and m.element_code.startswith("cand_") and m.method == "candidate"


def test_low_confidence_goes_to_review_not_guessed(setup):
    m = _one(setup, "户口地址")
    assert m.status == "review" and m.element_code is None and m.suggested_element == "household_address"


def test_declared_type_conflict_lowers_confidence(setup):
    m = _one(setup, "身份证有效期", "date")  # contains 身份证, but a date is not an ID
    assert m.status != "mapped"


def test_unmatched_field_is_a_candidate_not_dropped(setup):
    m = _one(setup, "新冠疫苗接种针次", "integer")
    assert m.status == "candidate" and m.element_code == "cand_xin_guan_yi_miao_jie_zhong_zhen_ci"


def test_override_wins(setup, tmp_path):
    dic, _, s = setup
    path = tmp_path / "ov.yaml"
    path.write_text(
        "version: 1\noverrides:\n  - {form_code: F1, field_label: 户口地址, element_code: household_address, "
        "reason: reviewed, reviewer: tester}\n",
        encoding="utf-8",
    )
    ov = d.load_overrides(dic, path)
    m = matching.match_field("F1", 1, "户口地址", "text", dic, ov, s)
    assert (m.element_code, m.method, m.confidence, m.status) == (
        "household_address",
        "override",
        1.0,
        "mapped",
    )
    other_form = matching.match_field("F2", 1, "户口地址", "text", dic, ov, s)
    assert other_form.method != "override"  # the override names one form only


def test_elements_table_lists_candidates(setup):
    dic, ov, s = setup
    fields = pl.DataFrame({"form_code": ["F1", "F2"], "field_order": [1, 1], "field_label": ["接种针次", "接种针次"],
                           "field_type": ["integer", "integer"]})  # fmt: skip
    ff = matching.match_catalog(fields, dic, ov, s)
    el = matching.elements_table(dic, ff)
    cand = el.filter(pl.col("status") == "candidate").row(0, named=True)
    assert cand["n_forms"] == 2 and cand["sharing"] is None and cand["forms"] == ["F1", "F2"]


def test_precision_recall_on_labelled_set(setup):
    labelled = evaluate.read_labelled()
    ev = evaluate.evaluate(labelled, *setup)
    print("\n" + ev.summary())
    assert ev.n >= 80
    assert ev.n_absent_from_synonyms >= 20 and ev.n_beyond_normalization >= 20
    assert ev.n_must_map_to_nothing >= 10
    assert ev.precision >= 0.95
    assert ev.recall >= 0.90


def test_labelled_set_names_real_elements(setup):
    codes = {e.code for e in setup[0].elements}
    truth = set(evaluate.read_labelled()["true_element"].drop_nulls().to_list())
    assert truth <= codes
