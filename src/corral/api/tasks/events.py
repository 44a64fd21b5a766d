"""A task's progress as server-sent events (`stream: true`): one `task.progress` event per stage
and per chunk read, then the answer itself, exactly as the request without `stream` gets it,
then `[DONE]`.

The task runs in a task of its own and the stream relays what it reports. The stream starts
only once the task has read its input and resolved its model (its first event, "read"), so a
bad request or a model the key may not use is still a plain HTTP error with its status; an
error after that ends the stream with an error event (`corral.api.streaming`). A client that
leaves cancels the task.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from corral.api import sse
from corral.tasks.engine import Listener, TaskEvent

Run = Callable[[Listener], Awaitable[dict[str, Any]]]


async def task_events(run: Run) -> AsyncIterator[bytes]:
    """The frames of a task's stream, once its first event came (errors before it raise)."""
    queue: asyncio.Queue[TaskEvent] = asyncio.Queue()
    job = asyncio.ensure_future(run(queue.put_nowait))
    try:
        first = await _next(queue, job)
    except BaseException:
        job.cancel()
        raise
    return _frames(first, queue, job)


async def _frames(
    first: TaskEvent | None, queue: asyncio.Queue[TaskEvent], job: asyncio.Future[dict[str, Any]]
) -> AsyncIterator[bytes]:
    try:
        event = first
        while event is not None:
            yield sse.event(event.as_json())
            event = await _next(queue, job)
        yield sse.event(job.result())
        yield sse.DONE
    finally:
        if not job.done():  # the client left: nobody waits for the answer
            job.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await job


async def _next(
    queue: asyncio.Queue[TaskEvent], job: asyncio.Future[dict[str, Any]]
) -> TaskEvent | None:
    """The next event, or None once the task is done and all its events were given (a task
    that failed raises its error here)."""
    if not queue.empty():
        return queue.get_nowait()
    if not job.done():
        getter: asyncio.Future[TaskEvent] = asyncio.ensure_future(queue.get())
        waiting: set[asyncio.Future[Any]] = {getter, job}
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not getter.done():
                getter.cancel()
        if getter.done() and not getter.cancelled():
            return getter.result()
    if not queue.empty():
        return queue.get_nowait()
    job.result()  # raises the task's error
    return None
