"""What a job kind supplies (a `JobHandler`) and what it is given to run with (`JobContext`)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from typing import Any, Protocol

from corral.jobs.model import Claim, Entry, Job, Progress
from corral.jobs.store import JobQueue, Write


class JobHandler(Protocol):
    """One job kind's steps. `run` starts from `job.checkpoint` when it is set (the job was
    resumed after its worker died or stopped), saves its state with `context.checkpoint` as it
    goes, and returns the job's result. A `CorralError` it raises fails the job with that
    error's message and code (its owner reads them); any other exception fails it with an
    internal error (the log has the traceback). A cancelled job's `run` is cancelled like any
    coroutine: clean up in `finally`."""

    async def run(self, job: Job, context: JobContext) -> dict[str, Any] | None: ...


class JobContext:
    """A running job's link to its queue, valid for its worker's claim only: once the claim
    is lost (another worker took the job over), every write raises `LeaseLost`."""

    def __init__(self, queue: JobQueue, claim: Claim, job: Job) -> None:
        self.job = job
        self._queue = queue
        self._claim = claim
        self._cancel = threading.Event()
        self._cancel_async = asyncio.Event()

    @property
    def attempt(self) -> int:
        return self._claim.attempt

    async def checkpoint(
        self,
        state: dict[str, Any],
        progress: Progress | None = None,
        *,
        events: Iterable[Entry] = (),
        write: Write | None = None,
    ) -> None:
        """Save where the job stands (JSON), with its progress, its events and `write` (say,
        billing what the step used) in one transaction: a resumed job neither redoes nor
        re-bills a step it has checkpointed."""
        await self._queue.save_checkpoint(self._claim, state, progress, events, write)

    async def event(
        self, message: str, data: dict[str, Any] | None = None, level: str = "info"
    ) -> None:
        await self._queue.update(self._claim, [Entry(message, data, level)])

    async def report(self, progress: Progress, events: Iterable[Entry] = ()) -> None:
        """Progress between checkpoints (a resumed job goes back to its checkpoint's), with
        the step's events in the same write."""
        await self._queue.update(self._claim, events, progress=progress)

    async def set_status(self, status: str, message: str | None = None) -> None:
        """Move the job from its kind's own state before running (validating_files) on."""
        events = [Entry(message)] if message else []
        await self._queue.update(self._claim, events, status=status)

    @property
    def cancelled(self) -> bool:
        """Whether the job's cancellation has been asked for (cheap: no database read)."""
        return self._cancel.is_set()

    @property
    def cancel_event(self) -> threading.Event:
        """Set on cancellation: for work the handler runs in threads, which no task
        cancellation reaches."""
        return self._cancel

    async def wait_cancelled(self) -> None:
        await self._cancel_async.wait()

    def mark_cancelled(self) -> None:
        """The worker's: the owner asked to cancel the job."""
        self._cancel.set()
        self._cancel_async.set()
