"""`Deadline`: a stream's fixed deadline over many waits, on one timer."""

from __future__ import annotations

import asyncio

import pytest

from corral.backends.remote.deadline import Deadline


def _in(seconds: float) -> float:
    return asyncio.get_running_loop().time() + seconds


async def test_waits_before_the_deadline_return_their_results() -> None:
    deadline = Deadline(_in(5))

    results = [await deadline.wait(asyncio.sleep(0.01, result=n)) for n in range(3)]

    assert results == [0, 1, 2]
    deadline.cancel()


async def test_a_wait_that_outlasts_the_deadline_raises_timeout_and_so_does_the_next() -> None:
    deadline = Deadline(_in(0.05))

    with pytest.raises(TimeoutError):
        await deadline.wait(asyncio.sleep(5))
    with pytest.raises(TimeoutError):
        await deadline.wait(asyncio.sleep(0))


async def test_a_deadline_passing_between_waits_fails_the_next_wait_at_once() -> None:
    deadline = Deadline(_in(0.01))
    await asyncio.sleep(0.05)  # the consumer was busy elsewhere when it passed
    started = asyncio.get_running_loop().time()

    with pytest.raises(TimeoutError):
        await deadline.wait(asyncio.sleep(5))

    assert asyncio.get_running_loop().time() - started < 0.5


async def test_a_cancel_from_elsewhere_stays_a_cancel() -> None:
    deadline = Deadline(_in(5))
    waiting = asyncio.create_task(deadline.wait(asyncio.sleep(5)))
    await asyncio.sleep(0.01)

    waiting.cancel()

    with pytest.raises(asyncio.CancelledError):
        await waiting
    deadline.cancel()
