"""The `alias` level kind (nicknames), one-edit and swapped-name levels, on inline pairs."""

from __future__ import annotations

import polars as pl
import pytest

from assets.matching import MatchEngine, parse_spec
from assets.matching.spec import SpecError, load_spec

SYNTHETIC_ENV = {"JIANFU_ENV": "dev"}


def _spec(aliases: str, max_edits: int | None = None) -> dict:
    alias = {"kind": "alias", "aliases": aliases, "ordered": False}
    if max_edits is not None:
        alias["max"] = max_edits
    return {
        "entity": "person",
        "record_id": "rid",
        "features": {"first": {"column": "first", "transform": "upper"},
                     "last": {"column": "last", "transform": "upper"}},
        "blocking": [{"name": "last", "keys": ["last"]}],
        "comparisons": [
            {"name": "first", "feature": "first", "levels": [
                {"kind": "exact"},
                {"kind": "damerau_levenshtein", "max": 1, "label": "one_edit"},
                alias,
                {"kind": "sql", "label": "swapped", "ordered": False, "condition":
                 "damerau_levenshtein(l.first, r.last) <= 1 AND damerau_levenshtein(l.last, r.first) <= 1"},
                {"kind": "else"}]},
            {"name": "last", "feature": "last", "levels": [{"kind": "exact"}, {"kind": "else"}]},
        ],
        "threshold": {"match_probability": 0.9},
    }  # fmt: skip


ROWS = pl.DataFrame(
    {
        "rid": ["a", "bill", "billy_typo", "ian", "ain", "swap", "twin", "sue", "hannah"],
        "first": ["William", "Bill", "Bilyl", "Ian", "aIn", "Smith", "Peter", "Sue", "Hannah"],
        "last": ["Smith", "Smith", "Smith", "Smith", "Smith", "Wiliam", "Smith", "Smith", "Smith"],
    }
)
# planted: Bill is William's nickname; Bilyl is "Billy" with two letters swapped (a nickname plus a
# typo); aIn is Ian with a transposition (Jaro-Winkler misses it); "Smith Wiliam" is the name swapped
# with a typo; Peter (a twin) shares nothing; Sue/Hannah are not listed as aliases of each other.
PAIRS = [("a", "bill"), ("a", "billy_typo"), ("ian", "ain"), ("a", "swap"), ("a", "twin"), ("sue", "hannah")]


def _levels(spec: dict) -> dict[tuple[str, str], str]:
    engine = MatchEngine(parse_spec(spec), env=SYNTHETIC_ENV)
    try:
        engine.load(ROWS)
        out = engine.compare(PAIRS)
    finally:
        engine.close()
    return {(r["record_id_l"], r["record_id_r"]): r["first"] for r in out.to_dicts()}


def test_nicknames_one_edit_and_swap():
    got = _levels(_spec("nicknames"))
    assert got[("a", "bill")] == "alias"  # William / Bill, case-insensitive
    assert got[("a", "billy_typo")] == "else"  # a nickname with a typo needs `max`
    assert got[("ian", "ain")] == "one_edit"
    assert got[("a", "swap")] == "swapped"
    assert got[("a", "twin")] == "else"  # a twin's different first name stays `else` (never_link applies)
    assert got[("sue", "hannah")] == "else"


def test_alias_with_a_typo():
    got = _levels(_spec("nicknames", max_edits=1))
    assert got[("a", "billy_typo")] == "alias"  # Billy, two letters swapped
    assert got[("a", "twin")] == "else"


def test_alias_list_from_a_csv_next_to_the_spec(tmp_path):
    import yaml

    (tmp_path / "aliases.csv").write_text("name,alias\nPeter,Pete\nwilliam,Peter\n", encoding="utf-8")
    spec = _spec("aliases.csv")
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    loaded = load_spec(tmp_path / "s.yaml")
    engine = MatchEngine(loaded, env=SYNTHETIC_ENV)
    try:
        engine.load(ROWS)
        out = engine.compare([("a", "twin"), ("a", "bill")])
    finally:
        engine.close()
    got = {(r["record_id_l"], r["record_id_r"]): r["first"] for r in out.to_dicts()}
    assert got[("a", "twin")] == "alias"  # listed in the user's file (either direction)
    assert got[("a", "bill")] == "else"  # the user's list replaces the built-in one


def test_missing_alias_list_is_a_spec_error(tmp_path):
    import yaml

    (tmp_path / "s.yaml").write_text(yaml.safe_dump(_spec("nope.csv")), encoding="utf-8")
    with pytest.raises(SpecError, match="level `alias`: no alias list"):
        load_spec(tmp_path / "s.yaml")


def test_alias_needs_its_list():
    spec = _spec("nicknames")
    spec["comparisons"][0]["levels"][2] = {"kind": "alias"}
    with pytest.raises(SpecError, match="needs `aliases`"):
        parse_spec(spec)
