"""Fixtures of the job tests: a queue on each database (SQLite and PostgreSQL), and a way to
run workers against it in the test's own loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from corral.jobs import Job, JobHandler, JobQueue, Worker
from corral.settings import load_settings
from corral.storage import Database, open_database

LEASE_S = 0.5
"""Short leases, so that a dead worker's job is taken over within a second."""


@pytest.fixture
def db(database_url: str, tmp_path: Path) -> Iterator[Database]:
    database = open_database(load_settings(home=tmp_path, database_url=database_url))
    yield database
    database.close()


@pytest.fixture
def queue(db: Database) -> JobQueue:
    return JobQueue(db)


@asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[asyncio.Task[None]]:
    """The worker runs in the background for the block, then stops cleanly."""
    task = asyncio.create_task(worker.run())
    try:
        yield task
    finally:
        worker.stop()
        if not task.done():
            await asyncio.wait_for(task, 10)


async def eventually(
    read: Callable[[], Awaitable[Job]], done: Callable[[Job], bool], within_s: float = 10.0
) -> Job:
    """Read the job until `done` says so (or fail after `within_s` seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        job = await read()
        if done(job):
            return job
        assert loop.time() < deadline, f"still {job.status}: {job.progress}"
        await asyncio.sleep(0.02)


async def finished(queue: JobQueue, job_id: str) -> Job:
    return await eventually(lambda: queue.get(job_id), lambda job: job.finished)


def fast_worker(queue: JobQueue, handlers: Mapping[str, JobHandler], **options: Any) -> Worker:
    """A worker on short leases and heartbeats, polling often."""
    timing: dict[str, Any] = {"lease_s": LEASE_S, "heartbeat_s": 0.1, "poll_s": 0.05}
    return Worker(queue, handlers, **(timing | options))
