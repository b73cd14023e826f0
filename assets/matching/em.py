"""Fellegi–Sunter parameters by expectation–maximisation on comparison-pattern counts.

Pairs are summarised as (gamma vector, count), usually a few thousand rows even for millions of pairs,
so EM runs in numpy in milliseconds and is independent of the order of the input. Level -1 (null on a
side) contributes a Bayes factor of 1 and is left out of every estimate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class FSModel:
    """m and u per comparison level, and lambda, the share of candidate pairs that match."""

    comparisons: list[str]
    levels: list[list[str]]
    m: list[np.ndarray]
    u: list[np.ndarray]
    lam: float
    iterations: int = 0
    converged: bool = False
    history: list[float] = field(default_factory=list)

    def weights(self) -> dict[str, list[float]]:
        """log2 Bayes factor per level."""
        return {
            name: [float(w) for w in np.log2(m / u)]
            for name, m, u in zip(self.comparisons, self.m, self.u, strict=True)
        }

    @property
    def prior_log2(self) -> float:
        return float(np.log2(self.lam / (1.0 - self.lam)))

    def to_records(self) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = []
        for ci, name in enumerate(self.comparisons):
            for li, level in enumerate(self.levels[ci]):
                m, u = float(self.m[ci][li]), float(self.u[ci][li])
                rows.append(
                    {
                        "comparison": name,
                        "level_index": li,
                        "level": level,
                        "m_probability": m,
                        "u_probability": u,
                        "match_weight": float(np.log2(m / u)),
                    }
                )
        return rows

    def to_dict(self) -> dict[str, object]:
        return {
            "lambda": self.lam,
            "iterations": self.iterations,
            "converged": self.converged,
            "levels": self.to_records(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> FSModel:
        comps: list[str] = []
        levels: list[list[str]] = []
        ms: list[list[float]] = []
        us: list[list[float]] = []
        for row in data["levels"]:
            if not comps or comps[-1] != row["comparison"]:
                comps.append(row["comparison"])
                levels.append([])
                ms.append([])
                us.append([])
            levels[-1].append(row["level"])
            ms[-1].append(row["m_probability"])
            us[-1].append(row["u_probability"])
        return cls(
            comps,
            levels,
            [np.array(x) for x in ms],
            [np.array(x) for x in us],
            float(data["lambda"]),
            int(data.get("iterations", 0)),
            bool(data.get("converged", True)),
        )


def _level_probs(
    gammas: np.ndarray, weights: np.ndarray, n_levels: list[int], alpha: float
) -> list[np.ndarray]:
    """Weighted share of each level per comparison, with `alpha` pseudo-counts (ignoring nulls)."""
    out = []
    for ci, k in enumerate(n_levels):
        g = gammas[:, ci]
        counts = np.bincount(g[g >= 0], weights=weights[g >= 0], minlength=k).astype(float) + alpha
        out.append(counts / counts.sum())
    return out


def _log_lik(gammas: np.ndarray, probs: list[np.ndarray]) -> np.ndarray:
    total = np.zeros(gammas.shape[0])
    for ci, p in enumerate(probs):
        g = gammas[:, ci]
        mask = g >= 0
        total[mask] += np.log(p[g[mask]])
    return total


def initial_m(n_levels: list[int]) -> list[np.ndarray]:
    """A neutral start: most matches agree at the first level, the rest share the remainder, decreasing."""
    out = []
    for k in n_levels:
        rest = np.array([0.5**i for i in range(1, k)])
        rest = 0.1 * rest / rest.sum()
        out.append(np.concatenate([[0.9], rest]))
    return out


def fit_em(
    comparisons: list[str],
    levels: list[list[str]],
    gammas: np.ndarray,
    counts: np.ndarray,
    u_init: list[np.ndarray],
    *,
    estimate_u: bool = True,
    max_iterations: int = 200,
    tolerance: float = 1e-7,
    smoothing: float = 0.5,
    lam_init: float = 0.1,
) -> FSModel:
    """EM for the two-class mixture over pattern counts. Returns the fitted model."""
    n_levels = [len(lv) for lv in levels]
    counts = counts.astype(float)
    m = initial_m(n_levels)
    u = [p.copy() for p in u_init]
    lam = lam_init
    history: list[float] = []
    converged = False
    iterations = 0
    for iterations in range(1, max_iterations + 1):  # noqa: B007 (the count is returned)
        lm = np.log(lam) + _log_lik(gammas, m)
        lu = np.log1p(-lam) + _log_lik(gammas, u)
        top = np.maximum(lm, lu)
        norm = top + np.log(np.exp(lm - top) + np.exp(lu - top))
        post = np.exp(lm - norm)
        history.append(float((counts * norm).sum()))
        wm = counts * post
        wu = counts * (1.0 - post)
        new_lam = float(np.clip(wm.sum() / counts.sum(), 1e-9, 1 - 1e-9))
        new_m = _level_probs(gammas, wm, n_levels, smoothing)
        new_u = _level_probs(gammas, wu, n_levels, smoothing) if estimate_u else u
        delta = max(
            abs(new_lam - lam),
            max(float(np.abs(a - b).max()) for a, b in zip(new_m, m, strict=True)),
            max(float(np.abs(a - b).max()) for a, b in zip(new_u, u, strict=True)),
        )
        m, u, lam = new_m, new_u, new_lam
        if delta < tolerance:
            converged = True
            break
    return FSModel(comparisons, levels, m, u, lam, iterations, converged, history)
