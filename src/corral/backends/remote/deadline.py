"""`Deadline`: one fixed deadline for the many waits of a stream, on one timer.

A stream from a remote server must end by a deadline set when it started. `asyncio.timeout_at`
around each chunk's read would give the same answer, but it makes and cancels a timer per chunk,
which cost about 6% of a streamed request's CPU on the gateway's hot path (bench/gateway.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class Deadline:
    """Waits that raise `TimeoutError` once the loop's clock passes `when`."""

    def __init__(self, when: float) -> None:
        self._timer = asyncio.get_running_loop().call_at(when, self._expire)
        self._expired = False
        self._waiting: asyncio.Task[object] | None = None

    async def wait(self, awaitable: Awaitable[T]) -> T:
        """Await `awaitable`, or raise `TimeoutError` if the deadline passes first."""
        if self._expired:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()  # never started: say so, or Python warns it was never awaited
            raise TimeoutError
        task = asyncio.current_task()
        assert task is not None, "called from a task"
        self._waiting = task
        try:
            return await awaitable
        except asyncio.CancelledError:
            if self._expired and task.uncancel() == 0:  # our own cancel, not someone else's
                raise TimeoutError from None
            raise
        finally:
            self._waiting = None

    def cancel(self) -> None:
        """The stream ended: the timer is not needed any more."""
        self._timer.cancel()

    def _expire(self) -> None:
        self._expired = True
        if self._waiting is not None:
            self._waiting.cancel()
