"""Batching the hot path's round trips: calls that arrive together go out together.

Under load many requests make the same kind of call at the same moment (a ledger write, a
rate-limit check); alone, each would pay for its own round trip. A call is queued instead, and
one task sends the queue once the event loop has run what was already ready: at concurrency 1
a call waits for nothing, at concurrency 64 dozens share one round trip, and the calls made
while a batch is in flight form the next one.
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
    def __init__(self, send: Callable[[list[P]], Awaitable[None]]) -> None:
        """`send` makes one batch's round trip and sets each call's outcome."""
        self._send = send
        self._queue: list[P] = []
        self._flushing: asyncio.Task[None] | None = None

    def submit(self, call: P) -> asyncio.Future[Any]:
        """Queue `call`; its outcome is set once its batch has been sent."""
        self._queue.append(call)
        if self._flushing is None:
            self._flushing = asyncio.get_running_loop().create_task(self._flush())
        return call.outcome

    async def idle(self) -> None:
        """Wait until everything queued so far has been sent."""
        while self._flushing is not None:
            await asyncio.shield(self._flushing)

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                try:
                    await self._send(batch)
                except Exception as exc:  # `send` sets outcomes itself: this is the last resort
                    for call in batch:
                        if not call.outcome.done():
                            call.outcome.set_exception(exc)
        finally:
            self._flushing = None
