"""Scores with their uncertainty: a pass rate and its 95 % bootstrap confidence interval.

The resampling is seeded, so the same per-item results always give the same interval (a
manifest's figures can be recomputed from its items).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

RESAMPLES = 1000


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def bootstrap_ci(
    values: Sequence[float], seed: int, resamples: int = RESAMPLES, level: float = 0.95
) -> tuple[float, float] | None:
    """The percentile interval of the mean over `resamples` resamples with replacement."""
    if not values:
        return None
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(resamples))
    tail = (1.0 - level) / 2
    low = means[int(tail * (resamples - 1))]
    high = means[round((1.0 - tail) * (resamples - 1))]
    return (low, high)
