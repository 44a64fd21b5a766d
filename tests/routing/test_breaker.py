"""The circuit breaker: open after repeated failures, one probe after the rest period."""

from __future__ import annotations

from corral.routing.backoff import backoff_s
from corral.routing.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_and_refuses_calls() -> None:
    breaker = CircuitBreaker(failures=3, reset_s=10, clock=Clock())

    for _ in range(3):
        assert breaker.allow()
        breaker.failure()

    assert breaker.state == "open"
    assert not breaker.allow()


def test_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker(failures=2, reset_s=10, clock=Clock())

    breaker.failure()
    breaker.success()
    breaker.failure()

    assert breaker.state == "closed"


def test_after_the_rest_one_probe_decides() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, reset_s=10, clock=clock)
    breaker.failure()
    clock.now = 10.0

    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one at a time
    breaker.failure()
    assert breaker.state == "open"

    clock.now = 20.0
    assert breaker.allow()
    breaker.success()
    assert closed(breaker)


def closed(breaker: CircuitBreaker) -> bool:
    return breaker.state == "closed" and breaker.allow()


def test_backoff_grows_but_never_undercuts_retry_after() -> None:
    waits = [backoff_s(n, 0.1, 1.0) for n in range(1, 8)]

    assert all(0 <= w <= min(1.0, 0.1 * 2 ** (n)) for n, w in enumerate(waits))
    assert backoff_s(1, 0.1, 1.0, retry_after_s=3.0) == 3.0
