"""A pass rate's 95 % bootstrap interval: seeded, so the same results give the same interval."""

from __future__ import annotations

from corral.evals.stats import bootstrap_ci, mean


def test_the_interval_surrounds_the_mean_and_repeats_with_the_seed() -> None:
    values = [1.0] * 7 + [0.0] * 3
    low, high = bootstrap_ci(values, seed=7) or (0.0, 0.0)
    assert mean(values) == 0.7
    assert low <= 0.7 <= high
    assert 0.3 <= low < 0.7 < high <= 1.0
    assert bootstrap_ci(values, seed=7) == (low, high)


def test_unanimous_results_have_no_spread_and_no_items_no_interval() -> None:
    assert bootstrap_ci([1.0] * 5, seed=1) == (1.0, 1.0)
    assert bootstrap_ci([], seed=1) is None
