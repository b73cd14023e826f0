"""Spec validation: a bad spec fails on load with a message naming the file and the entry."""

from __future__ import annotations

import copy

import pytest
import yaml

from assets.matching import SpecError, load_spec, parse_spec
from tests.matching.conftest import RESIDENT_SPEC

BASE = yaml.safe_load(RESIDENT_SPEC.read_text(encoding="utf-8"))


def broken(mutate) -> dict:
    data = copy.deepcopy(BASE)
    mutate(data)
    return data


def test_resident_spec_loads(resident_spec):
    assert resident_spec.entity == "resident"
    assert "name__py" in resident_spec.columns()  # companion of a text feature
    assert resident_spec.threshold.match_probability > 0.5


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        # blocking on a feature that does not exist
        (lambda d: d["blocking"].append({"name": "x", "keys": ["no_such"]}), "unknown feature `no_such`"),
        # `else` must be the last level
        (lambda d: d["comparisons"][2]["levels"].reverse(), "last level must be `else`"),
        # a Levenshtein band without its distance
        (lambda d: d["comparisons"][1]["levels"].__setitem__(2, {"kind": "levenshtein"}), "needs `max`"),
        # an ID-number level on a text feature
        (lambda d: d["comparisons"][1]["levels"].insert(1, {"kind": "id_one_edit"}), "transform id_number"),
        # pinyin on a date
        (
            lambda d: d["comparisons"][3]["levels"].insert(0, {"kind": "pinyin_equal"}),
            "needs a feature with transform text or name",
        ),
        # a strong link below the threshold
        (lambda d: d["clustering"].__setitem__("strong_link", 0.5), "strong_link"),
        # a typo in a key
        (lambda d: d["threshold"].__setitem__("match_probabilty", 0.9), "match_probabilty"),
        # masked windows that a transposition could straddle
        (
            lambda d: d["blocking"][1].__setitem__("masked_windows", {"width": 3, "step": 3}),
            "step must be smaller",
        ),
        # two comparisons of the same name
        (lambda d: d["comparisons"].append(copy.deepcopy(d["comparisons"][0])), "repeats"),
    ],
)
def test_invalid_specs_name_the_entry(mutate, message):
    with pytest.raises(SpecError) as err:
        parse_spec(broken(mutate), "residents-broken.yaml")
    assert "residents-broken.yaml" in str(err.value)
    assert message in str(err.value)


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("entity: [unclosed", encoding="utf-8")
    with pytest.raises(SpecError, match="bad.yaml: not valid YAML"):
        load_spec(bad)
    empty = tmp_path / "list.yaml"
    empty.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(SpecError, match="must be a mapping"):
        load_spec(empty)
