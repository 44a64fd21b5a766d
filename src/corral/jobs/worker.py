"""The worker: claims jobs of its kinds and runs them, a few at a time.

While a job runs, a heartbeat renews its lease every `heartbeat_s` and brings back whether
its owner asked to cancel it: the handler is then cancelled and the job ends as cancelled,
within a heartbeat. A handler's failure fails its job, never the worker. `stop()` ends the
worker cleanly: its handlers are cancelled and their jobs given back (lease released,
checkpoint kept), claimable at once. A worker whose task is cancelled instead, or whose
process dies, writes nothing more: its jobs are claimable once their leases expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from corral.errors import CorralError, StorageUnavailable
from corral.jobs.context import JobContext, JobHandler
from corral.jobs.metrics import JobMetrics
from corral.jobs.model import CANCELLED, FAILED, SUCCEEDED, Claim, Entry, Job
from corral.jobs.store import JobQueue, LeaseLost

logger = logging.getLogger("corral.jobs")

INTERNAL_ERROR = {
    "code": "internal_error",
    "message": "The job failed because of an internal error.",
}
_EXHAUSTED = {
    "code": "too_many_attempts",
    "message": "The job was interrupted too many times and will not be run again.",
}
END_WRITE_TRIES = 3


def worker_id() -> str:
    """Which machine and process a job runs on, as its events and the jobs table tell."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(slots=True)
class _Run:
    job: Job
    claim: Claim
    context: JobContext
    task: asyncio.Task[dict[str, Any] | None]
    interrupted: str | None = None
    """Why the worker cancelled the handler: cancel | shutdown | lost | exhausted."""
    started: float = field(default_factory=time.monotonic)

    def interrupt(self, reason: str) -> None:
        if not self.task.done() and self.interrupted is None:
            self.interrupted = reason
            self.task.cancel()


class Worker:
    def __init__(
        self,
        queue: JobQueue,
        handlers: Mapping[str, JobHandler],
        *,
        concurrency: int = 1,
        lease_s: float = 30.0,
        heartbeat_s: float = 2.0,
        poll_s: float = 1.0,
        max_attempts: int = 10,
        metrics: JobMetrics | None = None,
        name: str | None = None,
    ) -> None:
        """`lease_s`: how long a job stays this worker's without a heartbeat (a dead worker's
        jobs wait this long); `heartbeat_s` (at most a third of it): how often the lease is
        renewed and cancellations are noticed; `poll_s`: how often an idle worker looks for
        work (`wake` makes it look at once); `max_attempts`: a job claimed more often than this
        (its workers died, or stopped, each time) fails rather than run again."""
        self.id = name or worker_id()
        self._queue = queue
        self._handlers = dict(handlers)
        self._concurrency = concurrency
        self._lease_s = lease_s
        self._heartbeat_s = min(heartbeat_s, lease_s / 3)
        self._poll_s = poll_s
        self._max_attempts = max_attempts
        self._metrics = metrics
        self._runs: dict[str, _Run] = {}
        self._stopping = asyncio.Event()
        self._wakeup = asyncio.Event()

    @property
    def kinds(self) -> list[str]:
        return sorted(self._handlers)

    @property
    def running(self) -> list[str]:
        """The ids of the jobs running here now."""
        return list(self._runs)

    def wake(self) -> None:
        """Look for work now (a job was just submitted in this process)."""
        self._wakeup.set()

    def stop(self) -> None:
        """Stop claiming, give the running jobs back; `run` returns once they are."""
        self._stopping.set()
        for run in self._runs.values():
            run.interrupt("shutdown")
        self._wakeup.set()

    async def run(self) -> None:
        """Claim and run jobs until `stop`."""
        logger.info("job worker started", extra={"worker": self.id, "kinds": self.kinds})
        async with asyncio.TaskGroup() as group:
            while not self._stopping.is_set():
                if len(self._runs) < self._concurrency:
                    job = await self._claim()
                    if job is not None:
                        self._start(group, job)
                        continue
                await self._idle()
        logger.info("job worker stopped", extra={"worker": self.id})

    async def _claim(self) -> Job | None:
        try:
            return await self._queue.claim_next(self.id, self.kinds, self._lease_s)
        except Exception:  # the database is down: try again at the next poll
            logger.warning("no job could be claimed", exc_info=True)
            return None

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), self._poll_s)
        self._wakeup.clear()

    def _start(self, group: asyncio.TaskGroup, job: Job) -> None:
        claim = Claim(job.id, self.id, job.attempts)
        context = JobContext(self._queue, claim, job)
        if job.cancel_requested:
            context.mark_cancelled()
        handler = self._handlers[job.kind]
        task = asyncio.create_task(handler.run(job, context), name=f"job {job.id}")
        run = self._runs[job.id] = _Run(job, claim, context, task)
        if job.cancel_requested:
            run.interrupt("cancel")
        elif job.attempts > self._max_attempts:
            run.interrupt("exhausted")
        elif self._stopping.is_set():  # claimed while `stop` was giving the others back
            run.interrupt("shutdown")
        if self._metrics is not None:
            self._metrics.started(job.kind)
        logger.info("job started", extra={"job_id": job.id, "attempt": job.attempts})
        group.create_task(self._execute(run))

    async def _execute(self, run: _Run) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(run))
        outcome = "lost"
        try:
            try:
                await asyncio.wait({run.task})
            except asyncio.CancelledError:  # killed: write nothing, the lease runs out
                run.task.cancel()
                raise
            outcome = await self._settle(run)
        except Exception:  # never the worker's end: the lease runs out, the job is resumed
            logger.exception("a job's end could not be recorded", extra={"job_id": run.job.id})
        finally:
            heartbeat.cancel()
            del self._runs[run.job.id]
            self._wakeup.set()
            if self._metrics is not None:
                seconds = time.monotonic() - run.started
                self._metrics.ended(run.job.kind, outcome, seconds)

    async def _heartbeat(self, run: _Run) -> None:
        while not run.task.done():
            await asyncio.sleep(self._heartbeat_s)
            try:
                cancel = await self._queue.heartbeat(run.claim, self._lease_s)
            except LeaseLost:
                run.interrupt("lost")
                return
            except Exception:  # a database blip: the next beat tries again
                logger.warning("a job's lease could not be renewed", exc_info=True)
                continue
            if cancel:
                run.context.mark_cancelled()
                run.interrupt("cancel")
                return

    async def _settle(self, run: _Run) -> str:
        """Record how the handler ended; the outcome, for the metrics."""
        ending = _ending(run)
        if ending.outcome == "lost":
            logger.warning("job taken over by another worker", extra={"job_id": run.job.id})
            return ending.outcome
        await self._end(run, ending)
        return ending.outcome

    async def _end(self, run: _Run, ending: _Ending) -> None:
        """Write the job's end, or give it back; a few tries on a database blip."""
        for attempt in range(1, END_WRITE_TRIES + 1):
            try:
                if ending.status is None:
                    await self._queue.release(run.claim, ending.events)
                else:
                    await self._queue.finish(
                        run.claim,
                        ending.status,
                        result=ending.result,
                        error=ending.error,
                        events=ending.events,
                    )
                return
            except LeaseLost:
                logger.warning("job ended elsewhere meanwhile", extra={"job_id": run.job.id})
                return
            except Exception:
                if attempt == END_WRITE_TRIES:
                    raise
                await asyncio.sleep(self._heartbeat_s)


@dataclass(frozen=True, slots=True)
class _Ending:
    outcome: str
    """succeeded | failed | cancelled | released (given back) | lost (to another worker)"""
    status: str | None
    """The job's end; None gives it back."""
    events: list[Entry] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


def _ending(run: _Run) -> _Ending:
    """How a run ended, from why the worker interrupted it or what its handler did."""
    task = run.task
    if run.interrupted == "shutdown":
        return _Ending(
            "released", None, [Entry("Job given back: its worker stopped", level="warn")]
        )
    if run.interrupted == "lost":
        return _Ending("lost", None)
    if run.interrupted == "cancel":
        return _Ending(CANCELLED, CANCELLED, [Entry("Job cancelled")])
    if run.interrupted == "exhausted":
        return _failed(dict(_EXHAUSTED))
    error = None if task.cancelled() else task.exception()
    if error is None and not task.cancelled():
        return _Ending(SUCCEEDED, SUCCEEDED, [Entry("Job succeeded")], result=task.result() or {})
    if isinstance(error, LeaseLost):
        return _Ending("lost", None)
    if isinstance(error, StorageUnavailable):  # passing: resumed from its checkpoint
        entry = Entry("Job interrupted: the database was unavailable", level="warn")
        return _Ending("released", None, [entry])
    return _failed(_failure(run.job, error))


def _failed(error: dict[str, Any]) -> _Ending:
    events = [Entry(f"Job failed: {error['message']}", level="error")]
    return _Ending(FAILED, FAILED, events, error=error)


def _failure(job: Job, error: BaseException | None) -> dict[str, Any]:
    """What the job's owner reads of a failure: a `CorralError`'s own message, else nothing
    of the internals (they go to the log)."""
    if isinstance(error, CorralError):
        return {"code": error.code or "job_failed", "message": error.message}
    if error is None:  # the handler cancelled itself
        return {"code": "job_failed", "message": "The job stopped without a result."}
    logger.error("job failed", extra={"job_id": job.id}, exc_info=error)
    return dict(INTERNAL_ERROR)
