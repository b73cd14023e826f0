"""The schemas/ files load, and bad entries are reported with the file and the entry."""

import pytest

from assets.forms import dictionary as d


def test_shipped_files_load():
    dic = d.load_dictionary()
    codes = {e.code for e in dic.elements}
    # the elements the issue names are catalogued, each with a sharing category and a classification
    for code in ("person_name", "citizen_id", "sex", "birth_date", "ethnicity", "phone", "household_address",
                 "residence_address", "disability_category", "dibao_status", "lives_alone", "elderly_allowance",
                 "ev_charging_need"):  # fmt: skip
        assert code in codes
    assert {e.sharing for e in dic.elements} == {"无条件", "有条件", "不予共享"}
    d.load_overrides(dic)
    d.load_matching_settings()
    d.load_plan_settings()


def _write(tmp_path, text):
    path = tmp_path / "data_elements.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_bad_sharing_names_file_and_entry(tmp_path):
    path = _write(
        tmp_path,
        "version: 1\nelements:\n"
        "  - {code: a, name: 甲, type: text, sharing: 有条件, classification: personal}\n"
        "  - {code: b, name: 乙, type: text, sharing: 随便, classification: personal}\n",  # planted: bad sharing
    )
    with pytest.raises(d.SchemaFileError) as err:
        d.load_dictionary(path)
    assert str(path) in str(err.value) and "'b'" in str(err.value) and "sharing" in str(err.value)


def test_synonym_shared_by_two_elements_is_refused(tmp_path):
    path = _write(
        tmp_path,
        "version: 1\nelements:\n"
        "  - {code: a, name: 电话, type: phone, sharing: 有条件, classification: personal}\n"
        "  - {code: b, name: 手机, type: phone, sharing: 有条件, classification: personal, synonyms: [电 话]}\n",
    )
    with pytest.raises(d.SchemaFileError, match="already a label of 'a'"):
        d.load_dictionary(path)


def test_override_with_unknown_element_is_refused(tmp_path):
    path = tmp_path / "field_overrides.yaml"
    path.write_text(
        "version: 1\noverrides:\n  - {form_code: MZ01, field_label: 证号, element_code: nope, reason: r, reviewer: x}\n",
        encoding="utf-8",
    )
    with pytest.raises(d.SchemaFileError, match="MZ01/证号: unknown element_code 'nope'"):
        d.load_overrides(d.load_dictionary(), path)
