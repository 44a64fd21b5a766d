"""Workers run each job once, resume a dead worker's job from its checkpoint, cancel within a
heartbeat, and record failures without stopping."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

from prometheus_client import CollectorRegistry

from corral.errors import InvalidRequest
from corral.jobs import Job, JobContext, JobHandler, JobQueue, Progress, Worker
from corral.jobs.metrics import JobMetrics
from corral.jobs.sleep import SleepHandler
from tests.jobs.conftest import eventually, fast_worker, finished, running


class Counting:
    """Counts its runs per job; each takes a moment, so that workers overlap."""

    def __init__(self) -> None:
        self.runs: Counter[str] = Counter()

    async def run(self, job: Job, context: JobContext) -> dict[str, Any]:
        self.runs[job.id] += 1
        await asyncio.sleep(0.02)
        return {"by": context.attempt}


class Steps:
    """Checkpoints after each of its steps; remembers the checkpoint each run started from."""

    def __init__(self, steps: int, step_s: float) -> None:
        self.steps, self.step_s = steps, step_s
        self.started_from: list[dict[str, Any] | None] = []

    async def run(self, job: Job, context: JobContext) -> dict[str, Any]:
        self.started_from.append(job.checkpoint)
        start = (job.checkpoint or {}).get("step", 0)
        for step in range(start + 1, self.steps + 1):
            await asyncio.sleep(self.step_s)
            await context.checkpoint({"step": step}, Progress(step, self.steps))
        return {"steps": self.steps}


class Failing:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def run(self, job: Job, context: JobContext) -> dict[str, Any]:
        raise self.error


async def test_two_workers_run_every_job_exactly_once(queue: JobQueue) -> None:
    handler = Counting()
    jobs = [await queue.submit("count", "ten_a", {}) for _ in range(12)]
    one = fast_worker(queue, {"count": handler}, concurrency=2)
    two = fast_worker(queue, {"count": handler}, concurrency=2)

    async with running(one), running(two):
        for job in jobs:
            await finished(queue, job.id)

    assert handler.runs == Counter({job.id: 1 for job in jobs})
    assert {(await queue.get(job.id)).status for job in jobs} == {"succeeded"}


async def test_a_dead_workers_job_is_resumed_from_its_checkpoint(queue: JobQueue) -> None:
    handler = Steps(steps=6, step_s=0.05)
    job = await queue.submit("steps", "ten_a", {})
    doomed = fast_worker(queue, {"steps": handler})
    task = asyncio.create_task(doomed.run())
    await eventually(lambda: queue.get(job.id), lambda j: j.progress.done >= 2)

    task.cancel()  # killed: no clean shutdown, the lease is left to expire
    await asyncio.gather(task, return_exceptions=True)
    stopped_at = (await queue.get(job.id)).checkpoint
    async with running(fast_worker(queue, {"steps": handler})):
        done = await finished(queue, job.id)

    assert (done.status, done.attempts, done.result) == ("succeeded", 2, {"steps": 6})
    assert handler.started_from == [None, stopped_at]
    messages = [event.message for event in await queue.events(job.id)]
    assert messages.count("Job resumed from its checkpoint") == 1


async def test_a_stopping_worker_gives_its_job_back_at_once(queue: JobQueue) -> None:
    handler = Steps(steps=40, step_s=0.05)
    job = await queue.submit("steps", "ten_a", {})
    async with running(Worker(queue, {"steps": handler}, lease_s=30, poll_s=0.05)):
        await eventually(lambda: queue.get(job.id), lambda j: j.progress.done >= 1)

    given_back = await queue.get(job.id)
    assert (given_back.status, given_back.worker_id) == ("queued", None)
    assert given_back.checkpoint is not None
    async with running(fast_worker(queue, {"steps": handler})):  # no lease to wait out
        resumed = await eventually(lambda: queue.get(job.id), lambda j: j.attempts == 2, 3.0)
    assert resumed.checkpoint is not None


async def test_a_cancelled_job_stops_within_a_heartbeat(queue: JobQueue) -> None:
    handler = Steps(steps=1000, step_s=0.05)
    job = await queue.submit("steps", "ten_a", {})
    async with running(fast_worker(queue, {"steps": handler})):
        await eventually(lambda: queue.get(job.id), lambda j: j.progress.done >= 1)
        loop = asyncio.get_running_loop()
        asked = loop.time()

        await queue.request_cancel(job.id, "ten_a")
        cancelled = await finished(queue, job.id)
        took = loop.time() - asked

    assert cancelled.status == "cancelled"
    assert took < 2.0  # heartbeats come every 0.1 s
    assert cancelled.progress.done < 1000
    assert (await queue.events(job.id))[-1].message == "Job cancelled"


async def test_a_failing_job_records_its_error_and_the_worker_goes_on(queue: JobQueue) -> None:
    handlers: dict[str, JobHandler] = {
        "bad": Failing(InvalidRequest("The training file has no examples.", code="empty_file")),
        "buggy": Failing(KeyError("secret internals")),
        "count": Counting(),
    }
    bad = await queue.submit("bad", "ten_a", {})
    buggy = await queue.submit("buggy", "ten_a", {})
    fine = await queue.submit("count", "ten_a", {})

    async with running(fast_worker(queue, handlers)):
        ended = [await finished(queue, job.id) for job in (bad, buggy, fine)]

    assert [job.status for job in ended] == ["failed", "failed", "succeeded"]
    assert ended[0].error == {"code": "empty_file", "message": "The training file has no examples."}
    assert ended[1].error is not None and "secret" not in ended[1].error["message"]
    assert ended[1].error["code"] == "internal_error"
    last = (await queue.events(bad.id))[-1]
    assert (last.level, last.message) == ("error", "Job failed: The training file has no examples.")


async def test_the_sleep_kind_reports_progress_and_metrics(queue: JobQueue) -> None:
    registry = CollectorRegistry()
    metrics = JobMetrics(registry)
    metrics.watch_queue(queue.counts)
    job = await queue.submit("sleep", "admin", {"steps": 3, "step_seconds": 0.01})
    waiting = await queue.submit("other", "admin", {})

    async with running(fast_worker(queue, {"sleep": SleepHandler()}, metrics=metrics)):
        done = await finished(queue, job.id)

    assert done.result == {"steps": 3, "resumed_from": 0, "attempt": 1}
    assert done.progress == Progress(3, 3)
    labels = {"kind": "sleep", "outcome": "succeeded"}
    assert registry.get_sample_value("corral_job_duration_seconds_count", labels) == 1
    assert registry.get_sample_value("corral_jobs_running_here", {"kind": "sleep"}) == 0
    assert registry.get_sample_value("corral_jobs", {"kind": "other", "status": "queued"}) == 1
    assert waiting.status == "queued"


async def test_a_job_interrupted_too_often_fails_instead_of_running_again(
    queue: JobQueue,
) -> None:
    handler = Counting()
    job = await queue.submit("count", "ten_a", {})
    for attempt in range(1, 4):  # three workers died holding it
        await queue.claim_next(f"dead{attempt}", ["count"], 0.01)
        await asyncio.sleep(0.02)

    async with running(fast_worker(queue, {"count": handler}, max_attempts=3)):
        done = await finished(queue, job.id)

    assert (done.status, done.attempts) == ("failed", 4)
    assert done.error is not None and done.error["code"] == "too_many_attempts"
    assert handler.runs == Counter()


async def test_work_in_a_thread_sees_the_cancellation_too(queue: JobQueue) -> None:
    stopped = threading.Event()

    class Threaded:
        async def run(self, job: Job, context: JobContext) -> dict[str, Any]:
            def work() -> None:  # no task cancellation reaches a thread
                while not context.cancel_event.wait(0.01):
                    pass
                stopped.set()

            await asyncio.to_thread(work)
            return {}

    job = await queue.submit("threaded", "ten_a", {})
    async with running(fast_worker(queue, {"threaded": Threaded()})):
        await eventually(lambda: queue.get(job.id), lambda j: j.status == "running")
        await queue.request_cancel(job.id)
        cancelled = await finished(queue, job.id)

    assert cancelled.status == "cancelled"
    assert await asyncio.to_thread(stopped.wait, 2.0)
