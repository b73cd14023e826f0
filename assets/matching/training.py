"""Training a Fellegi–Sunter model the way Splink does, so that estimation cannot run away.

- u from random record pairs (a seeded sample of records, their cross product): random pairs are almost
  all non-matches, which is what u means. Never from the blocked candidates, which are mostly matches.
- m by EM in sessions, one per training blocking rule: inside a session u is fixed, λ is free, and the
  comparisons that the rule's keys are derived from are left out (their m is not learned from pairs that
  were selected because they agree on it). Each comparison's m is the mean over the sessions that
  estimated it.
- λ (the probability that two random records match) from deterministic rules with an explicit recall:
  λ = (pairs meeting a rule / recall) / (n (n-1) / 2).

Everything works on comparison-pattern counts: a few hundred rows, so EM is milliseconds.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np

from assets.matching.em import FSModel, fit_em, initial_m
from assets.matching.spec import Deterministic, MatchSpec

log = logging.getLogger(__name__)


def feature_roots(spec: MatchSpec, name: str, _seen: frozenset[str] = frozenset()) -> set[str]:
    """The input columns a feature (or companion) is computed from, through SQL features recursively."""
    base = name.split("__", 1)[0]
    feat = spec.features.get(base)
    if feat is None or base in _seen:
        return set()
    if feat.column is not None:
        return {feat.column}
    roots: set[str] = set()
    for other in spec.columns():
        if re.search(rf"\b{re.escape(other)}\b", feat.sql or ""):
            roots |= feature_roots(spec, other, _seen | {base})
    return roots


def comparison_roots(spec: MatchSpec, ci: int) -> set[str]:
    comp = spec.comparisons[ci]
    roots = feature_roots(spec, comp.feature)
    for level in comp.levels:
        roots |= feature_roots(spec, level.feature or comp.feature)
    return roots


def fixed_by_rule(spec: MatchSpec, rule_index: int) -> list[int]:
    """Comparisons that share an input column with the rule's keys (or its filter): not estimated there."""
    rule = spec.blocking[rule_index]
    roots: set[str] = set()
    for key in rule.keys:
        roots |= feature_roots(spec, key)
    for name in spec.columns():
        if rule.filter and re.search(rf"\b{re.escape(name)}\b", rule.filter):
            roots |= feature_roots(spec, name)
    return [ci for ci in range(len(spec.comparisons)) if comparison_roots(spec, ci) & roots]


@dataclass
class Session:
    """One EM session: the blocking rule, the comparisons it estimated, and its fitted λ (share of
    matches among that rule's pairs) and iterations."""

    rule: str
    pairs: int
    estimated: list[str]
    fixed: list[str]
    lam: float
    iterations: int
    converged: bool


@dataclass
class TrainingReport:
    u_pairs: int = 0
    u_records: int = 0
    u_sure_matches: int = 0  # random pairs left out of u because a deterministic rule says they match
    u_level_counts: list[np.ndarray] = field(default_factory=list)  # random pairs per comparison level
    sessions: list[Session] = field(default_factory=list)
    deterministic_pairs: int = 0
    recall: float = 1.0
    not_estimated: list[str] = field(default_factory=list)


def u_from_counts(
    gammas: np.ndarray, counts: np.ndarray, n_levels: list[int], alpha: float
) -> list[np.ndarray]:
    """u per comparison from the pattern counts of random pairs (nulls ignored, `alpha` pseudo-counts)."""
    out = []
    for ci, k in enumerate(n_levels):
        g = gammas[:, ci]
        mask = g >= 0
        c = np.bincount(g[mask], weights=counts[mask], minlength=k).astype(float) + alpha
        out.append(c / c.sum())
    return out


def remove_matches(
    u: list[np.ndarray],
    m: list[np.ndarray],
    lam: float,
    gammas: np.ndarray,
    counts: np.ndarray,
    alpha: float,
) -> list[np.ndarray]:
    """u without the true matches that random pairs contain: a level's share among random pairs is
    λ·m + (1-λ)·u, so u = (share - λ·m) / (1-λ), floored at the smoothing pseudo-count.

    At 100k records a random pair matches with probability ~10^-5, about as often as two different people
    share an ID number by chance, so without this the exact-ID level's u would be mostly matches."""
    out = []
    for ci, (share, mc) in enumerate(zip(u, m, strict=True)):
        n = float(counts[gammas[:, ci] >= 0].sum())
        floor = alpha / (n + alpha * len(share)) if n else share
        v = np.maximum((share - lam * mc) / (1.0 - lam), floor)
        out.append(v / v.sum())
    return out


def em_sessions(
    spec: MatchSpec,
    gammas: np.ndarray,
    masks: np.ndarray,
    counts: np.ndarray,
    u: list[np.ndarray],
    report: TrainingReport,
) -> list[np.ndarray]:
    """m per comparison: the mean over the EM sessions (one per training rule) that estimated it."""
    est = spec.estimation
    names = [c.name for c in spec.comparisons]
    levels = [[lv.name for lv in c.levels] for c in spec.comparisons]
    n_levels = [len(lv) for lv in levels]
    rules = est.em_blocking or [r.name for r in spec.blocking if r.masked_windows is None]
    index = {r.name: i for i, r in enumerate(spec.blocking)}
    sums = [np.zeros(k) for k in n_levels]
    seen = np.zeros(len(names), dtype=int)
    for rule_name in rules:
        ri = index[rule_name]
        sel = (masks >> ri) & 1 == 1
        if not sel.any():
            log.warning("EM session %s: no pairs", rule_name)
            continue
        fixed = fixed_by_rule(spec, ri)
        g = gammas[sel].copy()
        g[:, fixed] = -1  # left out of this session's likelihood
        model = fit_em(
            names,
            levels,
            g,
            counts[sel],
            u,
            estimate_u=False,
            max_iterations=est.max_iterations,
            tolerance=est.tolerance,
            smoothing=est.smoothing,
            lam_init=0.5,
        )
        free = [ci for ci in range(len(names)) if ci not in fixed]
        for ci in free:
            sums[ci] += model.m[ci]
            seen[ci] += 1
        report.sessions.append(
            Session(
                rule_name,
                int(counts[sel].sum()),
                [names[ci] for ci in free],
                [names[ci] for ci in fixed],
                float(model.lam),
                model.iterations,
                model.converged,
            )
        )
    start = initial_m(n_levels)
    m = []
    for ci in range(len(names)):
        if seen[ci]:
            m.append(sums[ci] / seen[ci])
        else:
            report.not_estimated.append(names[ci])
            m.append(start[ci])
    return m


def _deterministic(spec: MatchSpec) -> Deterministic:
    det = spec.estimation.deterministic
    if det is None:  # documented default: the first comparison's first level finds every match
        first = spec.comparisons[0]
        det = Deterministic(rules=({first.name: (first.levels[0].name,)},), recall=1.0)
    return det


def deterministic_hits(spec: MatchSpec, gammas: np.ndarray) -> np.ndarray:
    """Mask of the patterns that meet a deterministic rule."""
    index = {c.name: (ci, [lv.name for lv in c.levels]) for ci, c in enumerate(spec.comparisons)}
    hit = np.zeros(len(gammas), dtype=bool)
    for rule in _deterministic(spec).rules:
        fires = np.ones(len(gammas), dtype=bool)
        for comp_name, wanted in rule.items():
            ci, lv = index[comp_name]
            fires &= np.isin(gammas[:, ci], [lv.index(x) for x in wanted])
        hit |= fires
    return hit


def lambda_from_rules(
    spec: MatchSpec, gammas: np.ndarray, counts: np.ndarray, n_records: int, report: TrainingReport
) -> float:
    """λ = (candidate pairs meeting any deterministic rule / recall) / all pairs of records."""
    det = _deterministic(spec)
    found = float(counts[deterministic_hits(spec, gammas)].sum())
    report.deterministic_pairs = int(found)
    report.recall = det.recall
    total = n_records * (n_records - 1) / 2
    lam = (max(found, 1.0) / det.recall) / max(total, 1.0)
    return float(np.clip(lam, 1e-12, 0.5))


def train(
    spec: MatchSpec,
    pair_gammas: np.ndarray,
    pair_masks: np.ndarray,
    pair_counts: np.ndarray,
    random_gammas: np.ndarray,
    random_counts: np.ndarray,
    n_records: int,
    report: TrainingReport,
) -> FSModel:
    """The model from candidate-pattern counts (with rule masks) and random-pair pattern counts."""
    names = [c.name for c in spec.comparisons]
    levels = [[lv.name for lv in c.levels] for c in spec.comparisons]
    n_levels = [len(lv) for lv in levels]
    # Random pairs that meet a deterministic rule are matches, not chance agreement: left out of u.
    sure = deterministic_hits(spec, random_gammas)
    kept_gammas, kept_counts = random_gammas[~sure], random_counts[~sure]
    u = u_from_counts(kept_gammas, kept_counts, n_levels, spec.estimation.smoothing)
    report.u_pairs = int(random_counts.sum())
    report.u_level_counts = [
        np.bincount(
            kept_gammas[kept_gammas[:, ci] >= 0, ci],
            weights=kept_counts[kept_gammas[:, ci] >= 0],
            minlength=k,
        )
        for ci, k in enumerate(n_levels)
    ]
    report.u_sure_matches = int(random_counts[sure].sum())
    m = em_sessions(spec, pair_gammas, pair_masks, pair_counts, u, report)
    lam = lambda_from_rules(spec, pair_gammas, pair_counts, n_records, report)
    # The matches the rules miss (1 - recall of them) are still in: remove their expected share.
    kept = float(kept_counts.sum())
    lam_rest = lam * (1.0 - _deterministic(spec).recall) * float(random_counts.sum()) / kept if kept else 0.0
    u = remove_matches(u, m, min(lam_rest, 0.5), kept_gammas, kept_counts, spec.estimation.smoothing)
    iterations = sum(s.iterations for s in report.sessions)
    converged = all(s.converged for s in report.sessions)
    return FSModel(names, levels, m, u, lam, iterations, converged)
