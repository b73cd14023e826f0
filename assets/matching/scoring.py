"""Match weights of scored pairs: per comparison pattern, term-frequency adjusted, never_link applied.

Used for the candidate pairs, for the pairs that `clustering.complete_within` adds, and (per comparison)
as the clustering's profile evidence (`clustering.group_evidence: profile`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from assets.matching.em import FSModel
from assets.matching.pairs import Pairs
from assets.matching.spec import MatchSpec

TF_MINIMUM = 1e-6  # floor of a term frequency (Splink's tf_minimum_u_value)


def _tf_adjustment(model: FSModel, ci: int, count: np.ndarray, total: int) -> np.ndarray:
    """Splink: the exact level's u is replaced by the value's frequency. Here the frequency is shrunk
    towards the model's average u by 1/u pseudo-records, so a small batch (three rows, all of one name)
    cannot claim that its names are common: tf = (count + 1) / (n + 1/u). 0 where the pair disagrees."""
    u_exact = float(model.u[ci][0])
    tf = (count + 1.0) / (total + 1.0 / u_exact)
    return np.where(np.isnan(tf), 0.0, np.log2(u_exact) - np.log2(np.maximum(tf, TF_MINIMUM)))


def never_link_patterns(spec: MatchSpec, patterns: np.ndarray) -> np.ndarray:
    """Mask of the agreement patterns a `threshold.never_link` rule forbids (level -1 is `missing`)."""
    mask = np.zeros(len(patterns), dtype=bool)
    index = {c.name: (ci, [lv.name for lv in c.levels]) for ci, c in enumerate(spec.comparisons)}
    for rule in spec.threshold.never_link:
        fires = np.ones(len(patterns), dtype=bool)
        for comp_name, levels in rule.items():
            ci, names = index[comp_name]
            codes = [-1 if lv == "missing" else names.index(lv) for lv in levels]
            fires &= np.isin(patterns[:, ci], codes)
        mask |= fires
    return mask


def implied_patterns(spec: MatchSpec, gammas: np.ndarray) -> np.ndarray:
    """The patterns with `implied_by` applied: a comparison's levels other than `else` become null (-1)
    where the comparisons it names are at one of their listed levels (that agreement, exact or fuzzy, is
    already counted there; all of them, so that m of the exact and the fuzzy levels stay comparable).
    Only scoring uses these. Estimation sees the levels as they are: m is the same wherever two records of
    one person live (a typo does not depend on the home), and random pairs almost never share a home, so
    u is the one away from it; at the same home u of an agreeing surname is about its m, the weight ~0.
    `never_link` and the deterministic rules read the levels as seen too."""
    rules = [(ci, c.implied_by) for ci, c in enumerate(spec.comparisons) if c.implied_by]
    if not rules:
        return gammas
    index = {c.name: (ci, [lv.name for lv in c.levels]) for ci, c in enumerate(spec.comparisons)}
    out = gammas.copy()
    for ci, rule in rules:
        fires = (gammas[:, ci] >= 0) & (gammas[:, ci] < len(spec.comparisons[ci].levels) - 1)
        for comp_name, levels in rule.items():
            cj, names = index[comp_name]
            fires &= np.isin(gammas[:, cj], [names.index(lv) for lv in levels])
        out[fires, ci] = -1
    return out


def pair_scores(
    spec: MatchSpec, model: FSModel, pairs: Pairs, tf_total: dict[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """(match weight, probability) of each pair: per pattern, plus the term-frequency adjustment of
    pairs agreeing exactly on a value of a `term_frequency` comparison; never_link patterns get 0."""
    weights = model.weights()
    gammas = implied_patterns(spec, pairs.gammas)
    pw = np.full(len(gammas), model.prior_log2)
    for ci, comp in enumerate(spec.comparisons):
        w = np.asarray(weights[comp.name])
        g = gammas[:, ci]
        pw += np.where(g >= 0, w[np.clip(g, 0, None)], 0.0)
    never = never_link_patterns(spec, pairs.gammas)
    w_pair = pw[pairs.pattern]
    for ci, count in pairs.tf.items():
        adj = _tf_adjustment(model, ci, count, tf_total[ci])
        w_pair = w_pair + np.where(gammas[pairs.pattern, ci] == 0, adj, 0.0)
    p = 1.0 / (1.0 + np.exp2(-w_pair))
    p[never[pairs.pattern]] = 0.0
    return w_pair, p


def pair_evidence(
    spec: MatchSpec, model: FSModel, sets: list[Pairs], tf_total: dict[int, int]
) -> Callable[[np.ndarray], np.ndarray]:
    """Per-comparison weights (nan when null, term frequencies applied) of pairs by their index in the
    concatenation of `sets`: the input of the clustering's profile evidence (float32, computed on
    demand for the pairs asked)."""
    weights = model.weights()
    tables, patterns, offset = [], [], 0
    implied = []
    for ps in sets:
        gammas = implied_patterns(spec, ps.gammas)
        implied.append(gammas)
        table = np.full(ps.gammas.shape, np.nan, dtype=np.float32)
        for ci, comp in enumerate(spec.comparisons):
            w, g = np.asarray(weights[comp.name]), gammas[:, ci]
            table[:, ci] = np.where(g >= 0, w[np.clip(g, 0, None)], np.nan)
        tables.append(table)
        patterns.append(ps.pattern.astype(np.int64) + offset)
        offset += len(ps.gammas)
    table, pattern = np.vstack(tables), np.concatenate(patterns)
    adjust = {
        ci: np.where(
            np.concatenate([g[ps.pattern, ci] == 0 for g, ps in zip(implied, sets, strict=True)]),
            _tf_adjustment(model, ci, np.concatenate([ps.tf[ci] for ps in sets]), tf_total[ci]),
            0.0,
        ).astype(np.float32)
        for ci in sets[0].tf
    }

    def evidence(idx: np.ndarray) -> np.ndarray:
        out = table[pattern[idx]]
        for ci, adj in adjust.items():
            out[:, ci] += adj[idx]
        return out

    return evidence
