"""How sure a number is: 95% intervals for a cell's median and for a ratio of two cells' medians,
and the verdicts and comparisons drawn from them.

A median's interval is distribution-free: between two order statistics of the repeats, chosen so
that the interval covers the true median with at least 95% probability whatever the distribution
of the timings (they are skewed and have one-sided outliers, so a normal interval would be
wrong). That needs at least six repeats; with fewer, the interval is the whole range (min to
max), and `coverage` says how sure it is (75% with three repeats). A ratio of two medians gets a
percentile bootstrap over both cells' repeats, with a fixed seed so the same tables always give
the same report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 4000
BOOTSTRAP_SEED = 20261125


@dataclass(frozen=True)
class Interval:
    """An estimate and the interval around it; `coverage` is the probability the interval holds
    the true value (the exact order-statistic coverage, or the bootstrap's nominal level)."""

    estimate: float
    low: float
    high: float
    coverage: float

    def relative_half_width(self) -> float:
        """The larger side of the interval as a fraction of the estimate (0.05 means ±5%)."""
        return max(self.estimate - self.low, self.high - self.estimate) / self.estimate


def order_statistic_ranks(count: int, confidence: float = CONFIDENCE) -> tuple[int, float]:
    """The 1-based rank k such that [x(k), x(count - k + 1)] is the narrowest order-statistic
    interval for the median with at least `confidence` coverage, and that coverage.

    The true median lies below x(k) only if fewer than k samples fall below it, which for any
    continuous distribution has probability P(Binomial(count, 1/2) <= k - 1); both tails give
    coverage 1 - 2 P(B <= k - 1). When even k = 1 (min to max) falls short, k is 1 and the
    coverage says by how much.
    """
    if count < 1:
        raise ValueError("an interval needs at least one sample")
    rank, best = 1, 1 - 2 / 2**count
    tail = 0.0  # P(B <= k - 1), built up term by term
    for k in range(1, (count + 1) // 2 + 1):
        tail += math.comb(count, k - 1) / 2**count
        if 1 - 2 * tail < confidence:
            break
        rank, best = k, 1 - 2 * tail
    return rank, best


def median_interval(samples: Sequence[float] | np.ndarray) -> Interval:
    """The median of `samples` with its distribution-free 95% interval (see the module)."""
    ordered = np.sort(np.asarray(samples, dtype=float))
    rank, coverage = order_statistic_ranks(len(ordered))
    return Interval(
        float(np.median(ordered)),
        float(ordered[rank - 1]),
        float(ordered[len(ordered) - rank]),
        coverage,
    )


def ratio_interval(
    numerator: Sequence[float] | np.ndarray,
    denominator: Sequence[float] | np.ndarray,
    seed: int = BOOTSTRAP_SEED,
) -> Interval:
    """median(numerator) ÷ median(denominator) with a 95% percentile-bootstrap interval: both
    cells are resampled with replacement, independently, `BOOTSTRAP_RESAMPLES` times."""
    top = np.asarray(numerator, dtype=float)
    bottom = np.asarray(denominator, dtype=float)
    if not len(top) or not len(bottom):
        raise ValueError("a ratio needs samples of both cells")
    rng = np.random.default_rng(seed)
    top_medians = np.median(rng.choice(top, (BOOTSTRAP_RESAMPLES, len(top))), axis=1)
    bottom_medians = np.median(rng.choice(bottom, (BOOTSTRAP_RESAMPLES, len(bottom))), axis=1)
    ratios = top_medians / bottom_medians
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    estimate = float(np.median(top) / np.median(bottom))
    return Interval(estimate, min(float(low), estimate), max(float(high), estimate), CONFIDENCE)


class Verdict(StrEnum):
    """Whether a target was reached, judged by the interval rather than the estimate alone."""

    MET = "met"
    NOT_MET = "not met"
    INCONCLUSIVE = "inconclusive"


def verdict(interval: Interval, limit: float, *, at_least: bool) -> Verdict:
    """`met` when the whole interval is on the goal's side of `limit`, `not met` when the whole
    interval is on the other side, `inconclusive` when it straddles the limit."""
    if at_least:
        if interval.low >= limit:
            return Verdict.MET
        return Verdict.NOT_MET if interval.high < limit else Verdict.INCONCLUSIVE
    if interval.high <= limit:
        return Verdict.MET
    return Verdict.NOT_MET if interval.low > limit else Verdict.INCONCLUSIVE


class Change(StrEnum):
    """How one cell moved from run A to run B."""

    FASTER = "faster"
    SLOWER = "slower"
    WITHIN_NOISE = "within noise"


def change(b_over_a: Interval) -> Change:
    """A cell differs beyond noise when the interval of B's time ÷ A's time excludes 1."""
    if b_over_a.high < 1:
        return Change.FASTER
    if b_over_a.low > 1:
        return Change.SLOWER
    return Change.WITHIN_NOISE
