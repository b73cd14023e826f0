"""`implied_by`: agreement another comparison already implies is not counted twice (a household's
surname at its shared home), and the profile bypass of the average guard for sure groups."""

from __future__ import annotations

import numpy as np
import pytest

from assets.matching import parse_spec
from assets.matching.cluster import ClusterInput, cluster
from assets.matching.em import FSModel
from assets.matching.pairs import Pairs
from assets.matching.scoring import implied_patterns, pair_scores

SPEC = {
    "entity": "person",
    "record_id": "rid",
    "features": {"first": {"column": "first"}, "surname": {"column": "surname"}, "home": {"column": "home"}},
    "blocking": [{"name": "home", "keys": ["home"]}],
    "threshold": {"match_probability": 0.9},
    "comparisons": [
        {"name": "first", "feature": "first", "levels": [{"kind": "exact"}, {"kind": "else"}]},
        {"name": "surname", "feature": "surname",
         "levels": [{"kind": "exact"}, {"kind": "levenshtein", "max": 1}, {"kind": "else"}],
         "implied_by": {"home": ["exact"]}},
        {"name": "home", "feature": "home", "levels": [{"kind": "exact"}, {"kind": "else"}]},
    ],
}  # fmt: skip


def test_agreement_implied_by_the_home_is_null_and_disagreement_still_counts():
    spec = parse_spec(SPEC)
    # patterns (first, surname, home): surname exact / one edit / else at the same home, exact elsewhere,
    # and a null surname at the same home
    gammas = np.array([[1, 0, 0], [1, 1, 0], [1, 2, 0], [1, 0, 1], [1, -1, 0]])
    got = implied_patterns(spec, gammas)
    assert got[:, 1].tolist() == [-1, -1, 2, 0, -1]  # only agreement at the same home is dropped
    assert gammas[0, 1] == 0  # the input is not changed


def test_scores_do_not_count_the_implied_surname_nor_its_term_frequency():
    spec = parse_spec(SPEC)
    model = FSModel(
        ["first", "surname", "home"],
        [["exact", "else"], ["exact", "levenshtein_max_1", "else"], ["exact", "else"]],
        [np.array([0.9, 0.1]), np.array([0.8, 0.1, 0.1]), np.array([0.8, 0.2])],
        [np.array([0.01, 0.99]), np.array([0.01, 0.01, 0.98]), np.array([0.001, 0.999])],
        1e-4,
    )
    # two pairs, both: first names differ, surnames agree (a common one: 500 of 1,000 records)
    gammas = np.array([[1, 0, 0], [1, 0, 1]])  # at the same home / at different homes
    pairs = Pairs(a=np.array([0, 2]), b=np.array([1, 3]), pattern=np.array([0, 1]), gammas=gammas,
                  masks=np.zeros(2, dtype=np.int64), counts=np.ones(2),
                  tf={1: np.array([500.0, 500.0])})  # fmt: skip
    w, _ = pair_scores(spec, model, pairs, {1: 1000})
    weights = model.weights()
    same_home = model.prior_log2 + weights["first"][1] + weights["home"][0]
    assert w[0] == pytest.approx(same_home)  # no surname weight, no term-frequency adjustment
    assert w[1] < model.prior_log2 + weights["first"][1] + weights["home"][1] + weights["surname"][0]


def test_implied_by_names_an_unknown_level_clearly():
    bad = {**SPEC, "comparisons": [*SPEC["comparisons"][:1],
                                   {**SPEC["comparisons"][1], "implied_by": {"home": ["same_phone"]}},
                                   SPEC["comparisons"][2]]}  # fmt: skip
    with pytest.raises(Exception, match="implied_by: comparison `home` has no level"):
        parse_spec(bad)


def test_a_sure_group_profile_needs_no_average_support():
    # {0,1} and {2,3}; one weak link 1-2 (0.99) and three cross pairs that know little (p 0.01: a typo,
    # a missing birth date) - the average (0.26) alone refuses the join.
    edges = [(0, 1, 1.0), (2, 3, 1.0), (1, 2, 0.99), (0, 2, 0.01), (0, 3, 0.01), (1, 3, 0.01)]
    a, b = np.array([e[0] for e in edges]), np.array([e[1] for e in edges])
    p = np.array([e[2] for e in edges])

    def labels(email_weight: float) -> np.ndarray:
        # per-comparison weights (name, email) of each pair; the email agrees on the weak link only
        ev = np.array([[9.0, 19.0], [9.0, 19.0], [9.0, email_weight], [-2.0, np.nan], [-2.0, np.nan],
                       [-2.0, np.nan]])  # fmt: skip
        inp = ClusterInput(4, a, b, p, 0.5, 0.999, 0.5, evidence=lambda idx: ev[idx], prior_log2=-18.0)
        return cluster(inp)

    assert len(set(labels(19.0).tolist())) == 1  # -18 + 9 + 19 = +10 bits >= the strong link's 9.97
    got = labels(12.0)  # -18 + 9 + 12 = +3 bits: a plain weak link, the average refuses it
    assert got[0] == got[1] != got[2] == got[3]


def test_explain_names_the_implied_levels():
    from assets.matching.sanity import explain_model

    spec = parse_spec(SPEC)
    model = FSModel(
        ["first", "surname", "home"],
        [["exact", "else"], ["exact", "levenshtein_max_1", "else"], ["exact", "else"]],
        [np.array([0.9, 0.1]), np.array([0.8, 0.1, 0.1]), np.array([0.8, 0.2])],
        [np.array([0.01, 0.99]), np.array([0.01, 0.01, 0.98]), np.array([0.001, 0.999])],
        1e-4,
    )
    assert "surname: levels before `else` count 0 where home is exact (implied_by)" in explain_model(
        spec, model, None
    )
