"""`threshold.never_link`: agreement patterns that are never a link, whatever their weight."""

from __future__ import annotations

import polars as pl
import pytest

from assets.matching.spec import SpecError, load_spec

SYNTHETIC_ENV = {"JIANFU_ENV": "dev"}  # synthetic rows: the documented dev person-id salt

BASE = """
version: 1
entity: toy
record_id: rid
features:
  name: {column: name, transform: text}
  phone: {column: phone, transform: digits}
blocking:
  - {name: phone, keys: [phone]}
  - {name: name, keys: [name]}      # a second rule: EM on each rule's pairs estimates the other comparison
comparisons:
  - name: name
    feature: name
    levels: [{kind: exact}, {kind: else}]
  - name: phone
    feature: phone
    levels: [{kind: exact}, {kind: else}]
threshold:
  match_probability: 0.5
  RULES
"""


def spec(tmp_path, rules: str):
    path = tmp_path / "toy.yaml"
    path.write_text(BASE.replace("RULES", rules), encoding="utf-8")
    return load_spec(path)


def test_unknown_comparison_or_level_is_a_clear_error(tmp_path) -> None:
    with pytest.raises((SpecError, ValueError), match="no comparison `nam`"):
        spec(tmp_path, "never_link: [{nam: [else]}]")
    with pytest.raises((SpecError, ValueError), match="has no level"):
        spec(tmp_path, "never_link: [{name: [elsewhere]}]")


def test_a_shared_phone_alone_no_longer_links_different_names(tmp_path) -> None:
    from assets.matching.engine import MatchEngine

    # Households share a phone; rows 1/2 are one person, rows 3/4 a parent and child with one phone.
    rows = pl.DataFrame(
        {
            "rid": [str(i) for i in range(1, 41)],
            "name": [f"p{i // 2}" for i in range(40)],  # pairs with equal names: the same person
            "phone": [f"1380000{i // 2:04d}" for i in range(40)],
        }
    )
    rows = rows.vstack(
        pl.DataFrame({"rid": ["a", "b"], "name": ["毛燕菲", "施博思"], "phone": ["13999999999"] * 2})
    )
    free = MatchEngine(spec(tmp_path, "never_link: []"), env=SYNTHETIC_ENV).resolve(rows).assignments
    ruled = (
        MatchEngine(spec(tmp_path, "never_link: [{name: [else]}]"), env=SYNTHETIC_ENV)
        .resolve(rows)
        .assignments
    )
    # a rule that forbids what the model links: equal names on one phone
    strict = (
        MatchEngine(spec(tmp_path, "never_link: [{name: [exact], phone: [exact]}]"), env=SYNTHETIC_ENV)
        .resolve(rows)
        .assignments
    )

    def same(frame: pl.DataFrame, a: str, b: str) -> bool:
        ids = dict(zip(frame["record_id"], frame["entity_id"], strict=True))
        return ids[a] == ids[b]

    # u from random pairs: a shared phone with disagreeing names is not enough on its own, rule or not
    assert not same(free, "a", "b")
    assert not same(ruled, "a", "b")
    assert same(free, "1", "2") and same(ruled, "1", "2") and same(ruled, "3", "4")  # equal names link
    assert not same(strict, "1", "2")  # the rule overrides the model's link
