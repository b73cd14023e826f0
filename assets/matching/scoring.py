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


def pair_scores(
    spec: MatchSpec, model: FSModel, pairs: Pairs, tf_total: dict[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """(match weight, probability) of each pair: per pattern, plus the term-frequency adjustment of
    pairs agreeing exactly on a value of a `term_frequency` comparison; never_link patterns get 0."""
    weights = model.weights()
    pw = np.full(len(pairs.gammas), model.prior_log2)
    for ci, comp in enumerate(spec.comparisons):
        w = np.asarray(weights[comp.name])
        g = pairs.gammas[:, ci]
        pw += np.where(g >= 0, w[np.clip(g, 0, None)], 0.0)
    never = never_link_patterns(spec, pairs.gammas)
    w_pair = pw[pairs.pattern]
    for ci, count in pairs.tf.items():
        w_pair = w_pair + _tf_adjustment(model, ci, count, tf_total[ci])
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
    for ps in sets:
        table = np.full(ps.gammas.shape, np.nan, dtype=np.float32)
        for ci, comp in enumerate(spec.comparisons):
            w, g = np.asarray(weights[comp.name]), ps.gammas[:, ci]
            table[:, ci] = np.where(g >= 0, w[np.clip(g, 0, None)], np.nan)
        tables.append(table)
        patterns.append(ps.pattern.astype(np.int64) + offset)
        offset += len(ps.gammas)
    table, pattern = np.vstack(tables), np.concatenate(patterns)
    adjust = {
        ci: _tf_adjustment(model, ci, np.concatenate([ps.tf[ci] for ps in sets]), tf_total[ci]).astype(
            np.float32
        )
        for ci in sets[0].tf
    }

    def evidence(idx: np.ndarray) -> np.ndarray:
        out = table[pattern[idx]]
        for ci, adj in adjust.items():
            out[:, ci] += adj[idx]
        return out

    return evidence
