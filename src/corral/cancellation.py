"""One model of cancellation: a `Cancellation` flag, and waits bounded by it and a deadline.

Whoever no longer wants a piece of work sets its `Cancellation`: the gateway when a client
leaves or billing fails, a backend when its consumer stops reading, later a job's owner. The
flag may be set from any thread. Work notices it in one of two ways:

- code on a thread of its own (the llama.cpp engine between two tokens) reads `is_set()`,
  which is a plain attribute read;
- code on the event loop awaits through `await_within(work, cancellation, deadline)`, or
  through a `Within` for the many waits of one stream. Setting the flag wakes such a wait at
  once (from another thread, through `loop.call_soon_threadsafe`): nothing polls.

A wait that is cancelled raises `ClientClosedRequest`; one whose deadline passes raises
`TimeoutError`, which each backend turns into its upstream timeout error. The work runs in the
caller's own task (a second task per wait would cost every request), so an interrupted wait
is a cancel of that task, taken back (`Task.uncancel`) before the error is raised; a cancel
from anyone else stays a `CancelledError`.

A stream's reads share one `Within`: one timer for its deadline and one subscription to its
flag for the whole stream. `asyncio.timeout_at` around each read would give the same answers
but makes and cancels a timer per chunk, on the gateway's hottest path.

A client that disconnects (`api.streaming.until_client_leaves`) interrupts its handler's task
in the same way, cancel and `uncancel`, but without a flag: that watch wraps every HTTP
request, and most end before anyone looks at their connection, so it keeps to one timer.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable
from contextlib import suppress
from typing import Any, TypeVar

from corral.errors import ClientClosedRequest

T = TypeVar("T")
_CANCELLED = "The request was cancelled."


# Guards every flag's list of waits: held for a moment, and only contended when a flag is set
# from another thread while a wait on it begins or ends.
_LOCK = threading.Lock()


class Cancellation:
    """A flag that nobody wants the work any more: set once from any thread, never unset."""

    __slots__ = ("_is_set", "_waits")

    def __init__(self) -> None:
        self._is_set = False
        self._waits: list[Within] | None = None

    def is_set(self) -> bool:
        return self._is_set

    def set(self) -> None:
        """Set the flag and interrupt every wait on it, each on its own loop."""
        with _LOCK:
            if self._is_set:
                return
            self._is_set = True
            waits, self._waits = self._waits, None
        if not waits:
            return
        try:
            here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        for within in waits:
            loop = within._loop
            if loop is here:
                loop.call_soon(within._interrupt)  # never run a waiter's code inside the setter's
            elif not loop.is_closed():
                with suppress(RuntimeError):  # the loop closed meanwhile: nothing waits any more
                    loop.call_soon_threadsafe(within._interrupt)


class Within:
    """Many waits in turn (a stream's reads), bounded by one cancellation and one deadline.

    `deadline` is on the loop's clock (`loop.time()`); None: no deadline. `close()` when done:
    it drops the timer and the place on the flag's list, so nothing keeps the caller's task.
    """

    __slots__ = (
        "_cancellation",
        "_expired",
        "_interrupted",
        "_loop",
        "_message",
        "_timer",
        "_waiting",
    )

    def __init__(
        self, cancellation: Cancellation, deadline: float | None, *, message: str = _CANCELLED
    ) -> None:
        self._cancellation = cancellation
        self._message = message
        self._expired = False
        self._interrupted = False
        self._waiting: asyncio.Task[Any] | None = None
        self._loop = loop = asyncio.get_running_loop()
        self._timer = None if deadline is None else loop.call_at(deadline, self._expire)
        with _LOCK:
            if not cancellation._is_set:
                if cancellation._waits is None:
                    cancellation._waits = [self]
                else:
                    cancellation._waits.append(self)

    async def wait(self, awaitable: Awaitable[T]) -> T:
        """Await `awaitable`: `ClientClosedRequest` once cancelled, `TimeoutError` once late."""
        if self._expired or self._cancellation._is_set:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()  # never started: say so, or Python warns it was never awaited
            raise self._error()
        task = asyncio.current_task()
        assert task is not None, "called from a task"
        self._waiting = task
        try:
            result = await awaitable
        except asyncio.CancelledError:
            if self._interrupted:
                self._interrupted = False
                if task.uncancel() == 0:  # our own cancel, not someone else's as well
                    raise self._error() from None
            raise
        finally:
            self._waiting = None
        if self._interrupted:  # the work caught our cancel and finished all the same
            self._interrupted = False
            task.uncancel()
        return result

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()  # a cancelled handle drops its callback: nothing points back
            self._timer = None
        with _LOCK:
            waits = self._cancellation._waits
            if waits is not None and self in waits:  # None once the flag is set
                waits.remove(self)

    def _error(self) -> Exception:
        if self._cancellation._is_set:
            return ClientClosedRequest(self._message)
        return TimeoutError()

    def _expire(self) -> None:
        self._timer = None
        self._expired = True
        self._interrupt()

    def _interrupt(self) -> None:
        if self._waiting is not None and not self._interrupted:
            self._interrupted = True
            self._waiting.cancel()


async def await_within(
    work: Awaitable[T],
    cancellation: Cancellation,
    deadline: float | None,
    *,
    message: str = _CANCELLED,
) -> T:
    """`work`'s result, unless `cancellation` is set first (`ClientClosedRequest(message)`) or
    the loop's clock passes `deadline` (`TimeoutError`)."""
    within = Within(cancellation, deadline, message=message)
    try:
        return await within.wait(work)
    finally:
        within.close()
