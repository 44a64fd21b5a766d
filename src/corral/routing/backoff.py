"""Waits between attempts: exponential with full jitter, and never shorter than Retry-After."""

from __future__ import annotations

import random


def backoff_s(
    attempt: int,
    initial_s: float,
    max_s: float,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number `attempt` (1 for the first retry)."""
    ceiling = min(max_s, initial_s * 2 ** (attempt - 1))
    wait = (rng or random).uniform(0, ceiling)
    if retry_after_s is not None:
        wait = max(wait, retry_after_s)
    return wait
