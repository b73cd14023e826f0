"""The model sanity report: checks a fitted model must pass before it scores anything.

1. Monotone levels: within a comparison, listed levels carry non-increasing weights (exact ≥ fuzzy ≥
   else), beyond the sampling noise of u (two standard errors from the random-pair counts); a level marked `against` (two valid, different ID numbers) weighs no more than `else`; a
   level marked `ordered: false` (different evidence, not looser) weighs at least as much as `else`.
2. A strong identifier outweighs location: the first level of each `estimation.sanity.strong`
   comparison weighs more than the best levels of all `estimation.sanity.location` comparisons together
   (a household shares address, phone and committee; that must never beat an agreeing ID number).
3. Every comparison's m was estimated by at least one EM session (else its m is only the start value).

A model that fails is refused with the reasons; the engine then keeps the previous model, if any.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from assets.matching.em import FSModel
from assets.matching.spec import MatchSpec

TOLERANCE = 0.25  # bits: weights closer than this are equal


def _noise(counts: list[np.ndarray] | None, ci: int, a: int, b: int) -> float:
    """Two standard errors (bits) of the difference of two levels' log2 u, from their random-pair counts
    (u of a level seen k times is known to about 1/sqrt(k+1)): an inversion smaller than this is noise."""
    if not counts:
        return 0.0
    ka, kb = float(counts[ci][a]), float(counts[ci][b])
    return 2.0 * float(np.sqrt(1.0 / (ka + 1.0) + 1.0 / (kb + 1.0))) / float(np.log(2.0))


class ModelRefused(ValueError):
    """A fitted model that breaks the sanity rules; the message lists every broken rule."""

    def __init__(self, report: SanityReport):
        self.report = report
        super().__init__("fitted model refused: " + "; ".join(report.problems))


@dataclass
class SanityReport:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        head = "model sanity: OK" if self.ok else f"model sanity: REFUSED ({len(self.problems)} problem(s))"
        return [head, *(f"  problem: {p}" for p in self.problems), *(f"  note: {n}" for n in self.notes)]


def check_model(
    spec: MatchSpec,
    model: FSModel,
    not_estimated: list[str] | None = None,
    u_counts: list[np.ndarray] | None = None,
) -> SanityReport:
    """`u_counts` (random pairs per level) turns the monotone check into a test: an inversion within the
    sampling noise of the two levels' u is reported as a note, a larger one refuses the model."""
    report = SanityReport()
    weights = model.weights()
    for comp in spec.comparisons:
        w = weights[comp.name]
        names = [lv.name for lv in comp.levels]
        chain = [i for i, lv in enumerate(comp.levels) if not lv.against and lv.ordered]
        ci = spec.comparisons.index(comp)
        for a, b in zip(chain, chain[1:], strict=False):
            if w[b] <= w[a] + TOLERANCE:
                continue
            noise = _noise(u_counts, ci, a, b)
            text = f"`{comp.name}`: level `{names[b]}` ({w[b]:+.2f}) outweighs the stricter `{names[a]}` ({w[a]:+.2f})"
            if w[b] - w[a] > noise:
                report.problems.append(text)
            else:
                report.notes.append(f"{text}, within the sampling noise of u (±{noise:.2f} bits)")
        for i, lv in enumerate(comp.levels):
            if not lv.ordered and w[i] < w[-1] - TOLERANCE:
                report.problems.append(
                    f"`{comp.name}`: level `{names[i]}` ({w[i]:+.2f}) is evidence for a match but weighs less "
                    f"than else ({w[-1]:+.2f})"
                )
            if lv.against and w[i] > w[-1] + TOLERANCE:
                report.problems.append(
                    f"`{comp.name}`: level `{names[i]}` is evidence against a match but weighs {w[i]:+.2f} "
                    f"> else {w[-1]:+.2f}"
                )
    san = spec.estimation.sanity
    if san.strong and san.location:
        location = sum(max(max(weights[c]), 0.0) for c in san.location)
        for c in san.strong:
            top = weights[c][0]
            if top <= location:
                report.problems.append(
                    f"strong identifier `{c}` agreeing ({top:+.2f}) does not outweigh the location evidence "
                    f"of {', '.join(san.location)} together ({location:+.2f})"
                )
            else:
                report.notes.append(f"`{c}` agreeing {top:+.2f} > location together {location:+.2f}")
    for c in not_estimated or []:
        report.problems.append(f"`{c}`: m was not estimated by any EM session (every training rule fixes it)")
    return report


def explain_model(spec: MatchSpec, model: FSModel, sanity: SanityReport | None, training=None) -> str:
    """The fitted weights table (comparison x level: m, u, weight) and the sanity report, as text."""
    lines = [f"{'comparison':<20} {'level':<26} {'m':>10} {'u':>10} {'weight':>8}"]
    for comp, ms, us in zip(spec.comparisons, model.m, model.u, strict=True):
        for li, lv in enumerate(comp.levels):
            tf = " (tf)" if comp.term_frequency and li == 0 else ""
            lines.append(
                f"{comp.name:<20} {lv.name + tf:<26} {ms[li]:>10.4g} {us[li]:>10.4g} {np.log2(ms[li] / us[li]):>+8.2f}"
            )
    lines.append(f"prior: lambda {model.lam:.4g} (log2 odds {model.prior_log2:+.2f})")
    for comp in spec.comparisons:
        if comp.implied_by:
            when = " and ".join(f"{c} is {' or '.join(lv)}" for c, lv in comp.implied_by.items())
            lines.append(f"{comp.name}: levels before `else` count 0 where {when} (implied_by)")
    if training is not None:
        lines.append(
            f"u from {training.u_pairs:,} random pairs of {training.u_records:,} records "
            f"({training.u_sure_matches:,} left out as deterministic matches); lambda from "
            f"{training.deterministic_pairs:,} deterministic pairs at recall {training.recall}"
        )
        for s in training.sessions:
            lines.append(
                f"EM on `{s.rule}` ({s.pairs:,} pairs, {s.iterations} iterations, share of matches {s.lam:.3f}): "
                f"estimated {', '.join(s.estimated) or '-'}; fixed {', '.join(s.fixed) or '-'}"
            )
    if sanity is not None:
        lines.extend(sanity.lines())
    return "\n".join(lines)
