"""Intervals, verdicts and adaptive repeats against known distributions (small, deterministic)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imgbench.confidence import (
    Change,
    Interval,
    Verdict,
    change,
    median_interval,
    order_statistic_ranks,
    ratio_interval,
    verdict,
)
from imgbench.measure import RepeatPolicy


@pytest.mark.parametrize(
    ("count", "rank", "coverage"),
    [(3, 1, 0.75), (5, 1, 0.9375), (6, 1, 0.96875), (8, 1, 0.9921875), (9, 2, 0.9609375)],
)
def test_order_statistic_ranks_match_the_binomial_table(count, rank, coverage) -> None:
    assert order_statistic_ranks(count) == (rank, pytest.approx(coverage))


def test_order_statistic_ranks_never_fall_below_95_percent_from_six_samples() -> None:
    for count in range(6, 200):
        rank, coverage = order_statistic_ranks(count)
        assert coverage >= 0.95
        # one rank further in would no longer reach 95%
        tail = sum(math.comb(count, i) for i in range(rank + 1)) / 2**count
        assert 1 - 2 * tail < 0.95


def test_median_interval_covers_a_skewed_distributions_median_95_percent_of_the_time() -> None:
    """Exponential timings (one-sided, like the outliers) with a known median, ln 2."""
    rng = np.random.default_rng(0)
    intervals = [median_interval(rng.exponential(1.0, 25)) for _ in range(2000)]
    covered = np.mean([interval.low <= math.log(2) <= interval.high for interval in intervals])
    assert 0.94 <= covered <= 0.99
    assert all(interval.coverage >= 0.95 for interval in intervals)


def test_median_interval_of_three_repeats_is_their_range_with_its_true_coverage() -> None:
    interval = median_interval([0.29, 1.84, 0.30])
    assert (interval.estimate, interval.low, interval.high) == (0.30, 0.29, 1.84)
    assert interval.coverage == 0.75
    assert interval.relative_half_width() == pytest.approx((1.84 - 0.30) / 0.30)


def test_ratio_interval_is_exact_for_constant_cells_and_reproducible() -> None:
    assert ratio_interval([2.0] * 5, [1.0] * 4) == Interval(2.0, 2.0, 2.0, 0.95)
    rng = np.random.default_rng(1)
    top, bottom = rng.lognormal(0, 0.2, 12), rng.lognormal(0, 0.2, 12)
    assert ratio_interval(top, bottom) == ratio_interval(top, bottom)


def test_ratio_interval_covers_the_true_ratio_of_medians() -> None:
    """Lognormal cells with medians 3 and 1.5: the true ratio of medians is 2."""
    rng = np.random.default_rng(2)
    trials = [
        ratio_interval(rng.lognormal(math.log(3), 0.3, 15), rng.lognormal(math.log(1.5), 0.3, 15))
        for _ in range(150)
    ]
    covered = np.mean([trial.low <= 2 <= trial.high for trial in trials])
    assert covered >= 0.88  # the percentile bootstrap runs a little under 95% at 15 samples
    assert all(trial.low <= trial.estimate <= trial.high for trial in trials)


@pytest.mark.parametrize(
    ("low", "high", "at_least", "expected"),
    [
        (5.2, 6.0, True, Verdict.MET),  # a speed-up of at least 5×, wholly above
        (4.0, 6.0, True, Verdict.INCONCLUSIVE),  # straddles 5×
        (3.0, 4.9, True, Verdict.NOT_MET),  # wholly below
        (2.0, 2.4, False, Verdict.MET),  # a slow-down of at most 2.5×, wholly below
        (2.0, 3.0, False, Verdict.INCONCLUSIVE),
        (2.6, 3.0, False, Verdict.NOT_MET),
    ],
)
def test_verdicts_follow_the_interval_not_the_estimate(low, high, at_least, expected) -> None:
    limit = 5.0 if at_least else 2.5
    estimate = (low + high) / 2
    assert verdict(Interval(estimate, low, high, 0.95), limit, at_least=at_least) == expected


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [(0.5, 0.9, Change.FASTER), (0.9, 1.1, Change.WITHIN_NOISE), (1.1, 1.5, Change.SLOWER)],
)
def test_a_cell_changes_only_when_its_ratio_interval_excludes_one(low, high, expected) -> None:
    assert change(Interval((low + high) / 2, low, high, 0.95)) == expected


class Clock:
    """A fake clock that only moves when a repeat runs: each repeat takes `step` seconds."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        return self.now

    def run(self, seconds: float) -> float:
        self.now += self.step
        return seconds


def test_a_constant_time_action_stops_at_the_minimum() -> None:
    policy = RepeatPolicy(minimum=3, maximum=50, relative_half_width=0.05, cell_budget_seconds=60)
    clock = Clock(0.25)
    assert policy.repeat(lambda repeat: clock.run(0.25), clock) == 3


def test_a_noisy_action_runs_to_the_maximum_within_a_large_budget() -> None:
    noisy = np.random.default_rng(3).lognormal(0, 0.8, 100)
    policy = RepeatPolicy(minimum=3, maximum=12, relative_half_width=0.05, cell_budget_seconds=1e6)
    clock = Clock(0.1)
    assert policy.repeat(lambda repeat: clock.run(float(noisy[repeat])), clock) == 12


def test_a_noisy_action_stops_before_it_would_overrun_its_budget() -> None:
    noisy = np.random.default_rng(4).lognormal(0, 0.8, 100)
    policy = RepeatPolicy(minimum=3, maximum=50, relative_half_width=0.05, cell_budget_seconds=10)
    clock = Clock(1.0)  # one second a repeat: ten fit the budget, an eleventh would not
    assert policy.repeat(lambda repeat: clock.run(float(noisy[repeat])), clock) == 10


def test_the_minimum_is_kept_even_past_the_budget() -> None:
    policy = RepeatPolicy(minimum=3, maximum=50, relative_half_width=0.05, cell_budget_seconds=1)
    clock = Clock(30.0)
    assert policy.repeat(lambda repeat: clock.run([1.0, 5.0, 2.0][repeat]), clock) == 3


def test_a_cell_that_settles_after_its_outliers_stops_before_the_maximum() -> None:
    """An outlier, then steady repeats: from nine repeats the interval runs from the second
    smallest to the second largest, leaving the outlier out, and the cell stops."""
    samples = [3.0, 1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0, 1.01, 0.99, 1.0, 1.0] + [1.0] * 38
    policy = RepeatPolicy(minimum=3, maximum=50, relative_half_width=0.05, cell_budget_seconds=1e6)
    clock = Clock(1.0)
    assert policy.repeat(lambda repeat: clock.run(samples[repeat]), clock) == 9


def test_one_or_two_repeats_never_stop_a_cell_on_their_agreement() -> None:
    policy = RepeatPolicy(minimum=1, maximum=50, relative_half_width=0.05, cell_budget_seconds=1e6)
    clock = Clock(1.0)
    assert policy.repeat(lambda repeat: clock.run(1.0), clock) == 3
