"""EM recovers known m/u probabilities and lambda from pairs drawn from a Fellegi–Sunter model."""

from __future__ import annotations

import numpy as np

from assets.matching.em import fit_em


def test_em_recovers_known_parameters():
    rng = np.random.default_rng(0)
    m_true = [
        np.array([0.85, 0.1, 0.05]),
        np.array([0.9, 0.1]),
        np.array([0.7, 0.2, 0.1]),
        np.array([0.95, 0.05]),
    ]
    u_true = [
        np.array([0.01, 0.04, 0.95]),
        np.array([0.2, 0.8]),
        np.array([0.05, 0.15, 0.8]),
        np.array([0.1, 0.9]),
    ]
    lam_true = 0.3
    n = 200_000
    is_match = rng.random(n) < lam_true
    gammas = np.empty((n, len(m_true)), dtype=np.int64)
    for c, (m, u) in enumerate(zip(m_true, u_true, strict=True)):
        gammas[:, c] = np.where(is_match, rng.choice(len(m), n, p=m), rng.choice(len(u), n, p=u))
    gammas[rng.random(n) < 0.1, 1] = -1  # some nulls: they must not bias the estimates
    patterns, counts = np.unique(gammas, axis=0, return_counts=True)
    start_u = [np.full(len(u), 1 / len(u)) for u in u_true]  # deliberately uninformative start
    model = fit_em(
        ["a", "b", "c", "d"],
        [[f"l{i}" for i in range(len(m))] for m in m_true],
        patterns,
        counts,
        start_u,
        lam_init=0.5,
    )
    assert model.converged
    assert abs(model.lam - lam_true) < 0.01
    for est, true in zip(model.m, m_true, strict=True):
        assert np.abs(est - true).max() < 0.02
    for est, true in zip(model.u, u_true, strict=True):
        assert np.abs(est - true).max() < 0.02
    # Without the pseudo-counts EM is plain maximum likelihood: the log-likelihood never decreases.
    plain = fit_em(["a", "b", "c", "d"], model.levels, patterns, counts, start_u, lam_init=0.5, smoothing=0.0)
    assert all(b >= a - 1e-6 * abs(a) for a, b in zip(plain.history, plain.history[1:], strict=False))


def test_fixed_u_is_kept():
    patterns = np.array([[0, 0], [1, 1], [0, 1]])
    counts = np.array([50, 900, 50])
    u = [np.array([0.1, 0.9]), np.array([0.2, 0.8])]
    model = fit_em(["a", "b"], [["x", "y"], ["x", "y"]], patterns, counts, u, estimate_u=False)
    assert all(np.array_equal(a, b) for a, b in zip(model.u, u, strict=True))
