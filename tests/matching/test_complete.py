"""Chain-resistant clustering: completing the unscored pairs of small clusters, and profile evidence
between groups (clustering.complete_within, clustering.group_evidence)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from assets.matching import MatchEngine, parse_spec
from assets.matching.cluster import ClusterInput, cluster, profile_weight
from assets.matching.complete import missing_pairs
from assets.matching.em import FSModel

SYNTHETIC_ENV = {"JIANFU_ENV": "dev"}


def test_missing_pairs_lists_only_unscored_pairs_of_small_clusters():
    # clusters: {0,1,2} (pairs 0-1, 1-2 scored: 0-2 missing), {3,4} (size 2: never completed),
    # {5,6,7,8} (only 5-6 scored: five missing), {9} alone
    labels = np.array([0, 0, 0, 3, 3, 5, 5, 5, 5, 9])
    a = np.array([0, 2, 3, 6])
    b = np.array([1, 1, 4, 5])  # 2-1 and 6-5 given in either order
    lo, hi = missing_pairs(labels, a, b, max_size=4)
    got = sorted(zip(lo.tolist(), hi.tolist(), strict=True))
    assert got == [(0, 2), (5, 7), (5, 8), (6, 7), (6, 8), (7, 8)]
    # clusters above the size limit are left alone
    lo, hi = missing_pairs(labels, a, b, max_size=3)
    assert sorted(zip(lo.tolist(), hi.tolist(), strict=True)) == [(0, 2)]


def test_profile_weight_takes_the_best_known_level_per_comparison():
    rows = np.array([[5.0, np.nan, -8.0], [3.0, np.nan, 2.0]])
    # name: best 5; dob: unknown in every pair (0); email: best 2
    assert profile_weight(-4.0, rows) == pytest.approx(-4.0 + 5.0 + 2.0)
    assert profile_weight(-4.0, np.zeros((0, 3))) == -4.0


def _two_namesake_groups(email_known: bool) -> np.ndarray:
    # {0,1} and {2,3}: tight groups (strong links); cross pairs all agree on the names and say p 0.93-0.95,
    # but the only cross pair where both emails are known (0-2) disagrees on them.
    edges = [(0, 1, 1.0), (2, 3, 1.0), (1, 2, 0.95), (0, 3, 0.93), (1, 3, 0.94), (0, 2, 0.6)]
    a = np.array([e[0] for e in edges])
    b = np.array([e[1] for e in edges])
    p = np.array([e[2] for e in edges])
    # per-comparison weights (name, email) of each pair; nan = a side is null
    ev = np.array([[12.0, 15.0], [12.0, 15.0], [12.0, np.nan], [12.0, np.nan], [12.0, np.nan],
                   [12.0, -8.0 if email_known else np.nan]])  # fmt: skip
    avg = cluster(ClusterInput(4, a, b, p, 0.9, 0.999, 0.5))
    prof = cluster(ClusterInput(4, a, b, p, 0.9, 0.999, 0.5, evidence=lambda idx: ev[idx], prior_log2=-3.0))
    assert len(set(avg.tolist())) == 1  # the average of the cross pairs joins them
    return prof


def test_profile_evidence_keeps_namesakes_with_different_emails_apart():
    prof = _two_namesake_groups(email_known=True)
    # profile: -3 + 12 (names) - 8 (emails differ) = +1 bit, p 0.67 < 0.9: two people
    assert prof[0] == prof[1] != prof[2] == prof[3]


def test_profile_evidence_joins_when_nothing_disagrees():
    prof = _two_namesake_groups(email_known=False)
    assert len(set(prof.tolist())) == 1  # -3 + 12 = +9 bits


SPEC = {
    "entity": "person",
    "record_id": "rid",
    "features": {
        "name": {"column": "name", "transform": "upper"},
        "dob": {"column": "dob", "transform": "text"},
        "phone": {"column": "phone", "transform": "digits"},
        "email": {"column": "email", "transform": "upper"},
    },
    # no rule on the name alone (as when a common name's block is too large): records meet only through
    # a shared phone, email or birth date
    "blocking": [{"name": "phone", "keys": ["phone"]}, {"name": "email", "keys": ["email"]},
                 {"name": "dob", "keys": ["dob"]}],
    "comparisons": [
        {"name": n, "feature": n, "levels": [{"kind": "exact"}, {"kind": "else"}]}
        for n in ("name", "dob", "phone", "email")
    ],
    "threshold": {"match_probability": 0.9},
}  # fmt: skip


def _model() -> FSModel:
    def lv(m: float, u: float) -> np.ndarray:
        return np.array([m, 1 - m]), np.array([u, 1 - u])

    # exact weights: name +6, dob +10, phone +10, email +15; else: dob and email about -8
    pairs = {"name": lv(0.96, 0.015), "dob": lv(0.99, 0.001), "phone": lv(0.5, 0.0005),
             "email": lv(0.996, 0.00003)}  # fmt: skip
    return FSModel(comparisons=list(pairs), levels=[["exact", "else"]] * 4,
                   m=[v[0] for v in pairs.values()], u=[v[1] for v in pairs.values()], lam=2**-10)  # fmt: skip


@pytest.mark.parametrize("complete", [0, 3])
def test_completion_splits_a_chain_whose_ends_disagree(complete):
    rows = pl.DataFrame(
        {
            "rid": ["a", "w", "b", "x"],
            "name": ["JOHN SMITH"] * 4,
            # a and b: two namesakes born years apart; w (no birth date) shares a's phone and b's email
            "dob": ["1980-01-01", None, "1990-05-05", None],
            "phone": ["111", "111", None, None],
            "email": [None, "J@X", "J@X", None],
        }
    )
    spec = parse_spec({**SPEC, "clustering": {"complete_within": complete}}, "chain (inline)")
    engine = MatchEngine(spec, env=SYNTHETIC_ENV)
    result = engine.resolve(rows, model=_model(), golden=False)
    ids = dict(zip(result.assignments["record_id"], result.assignments["entity_id"], strict=True))
    engine.close()
    # a-w (name + phone, +6 bits after the prior: p 0.985, a weak link) and w-b (name + email: strong)
    # chain a to b; a-b are never blocked together.
    assert ids["w"] == ids["b"]
    if complete:
        # compared, a-b disagree on the birth date: a leaves the chain, the strong w-b link stays
        assert ids["a"] != ids["b"]
        assert engine.stats["completed_pairs"] == 1
    else:
        assert ids["a"] == ids["b"]
    assert ids["x"] not in (ids["a"], ids["b"])  # x shares only the name: never a candidate


@pytest.mark.parametrize(
    "clustering", [{"complete_within": 1000}, {"complete_within": -1}, {"group_evidence": "mean"}]
)
def test_clustering_options_are_validated(clustering):
    with pytest.raises(Exception, match="clustering"):
        parse_spec({**SPEC, "clustering": clustering}, "bad (inline)")
