"""Batching the hot path's round trips: calls that arrive together go out together.

Under load many requests make the same kind of call at the same moment (a ledger write, a
rate-limit check); alone, each would pay for its own round trip. A call is queued instead, and
one task sends the queue once the event loop has run what was already ready: at concurrency 1
a call waits for nothing, at concurrency 64 dozens share one round trip, and the calls made
while a batch is in flight form the next one, which waits for it or, where a second batch may
be in flight (`in_flight`), goes out beside it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

MAX_BATCH = 64
"""Calls per batch at most: a longer queue goes out in several."""


class Pending(Protocol):
    @property
    def outcome(self) -> asyncio.Future[Any]:
        """Set by the sender with the call's result or error."""
        ...


P = TypeVar("P", bound=Pending)


class Batcher(Generic[P]):
    def __init__(self, send: Callable[[list[P]], Awaitable[None]], in_flight: int = 1) -> None:
        """`send` makes one batch's round trip and sets each call's outcome; up to
        `in_flight` batches are sent at once (each one's `send` must then be able to run
        beside the others)."""
        self._send = send
        self._in_flight = in_flight
        self._queue: list[P] = []
        self._senders: set[asyncio.Task[None]] = set()
        self._starting = False  # a sender made but not yet run will take the queue

    def submit(self, call: P) -> asyncio.Future[Any]:
        """Queue `call`; its outcome is set once its batch has been sent."""
        self._queue.append(call)
        if not self._starting and len(self._senders) < self._in_flight:
            self._starting = True
            self._senders.add(asyncio.get_running_loop().create_task(self._flush()))
        return call.outcome

    async def idle(self) -> None:
        """Wait until everything queued so far has been sent."""
        while self._senders:
            await asyncio.shield(next(iter(self._senders)))

    async def _flush(self) -> None:
        self._starting = False
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                try:
                    await self._send(batch)
                except Exception as exc:  # `send` sets outcomes itself: the last resort
                    for call in batch:
                        if not call.outcome.done():
                            call.outcome.set_exception(exc)
        finally:
            # Here, not in a done callback: a call queued before that callback ran would find
            # no sender free and none coming.
            task = asyncio.current_task()
            assert task is not None
            self._senders.discard(task)
