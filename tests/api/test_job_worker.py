"""The job worker inside `corral serve`: one process per home runs jobs (the others wait for
its lock), and a server stopped mid-job gives the job back, which the next server finishes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from corral.api.job_worker import LOCK_FILE, ServerWorker
from corral.jobs import Job, JobQueue, Worker, builtin_handlers
from corral.settings import load_settings
from corral.storage import open_database
from tests.jobs.conftest import eventually
from tests.support import start_server

IN_SERVER = {"CORRAL_JOBS__WORKER_IN_SERVER": "true", "CORRAL_JOBS__POLL_S": "0.1"}


def read(queue: JobQueue, job_id: str) -> Callable[[], Awaitable[Job]]:
    return lambda: queue.get(job_id)


def server_worker(queue: JobQueue, lock: Path, name: str) -> ServerWorker:
    worker = Worker(queue, builtin_handlers(), poll_s=0.02, heartbeat_s=0.1, name=name)
    return ServerWorker(worker, lock)


async def test_one_server_process_per_home_runs_the_jobs(tmp_path: Path) -> None:
    db = open_database(load_settings(home=tmp_path))
    queue = JobQueue(db)
    lock = tmp_path / LOCK_FILE
    first, second = (server_worker(queue, lock, name) for name in ("first", "second"))
    tasks = [asyncio.create_task(w.run()) for w in (first, second)]
    try:
        jobs = [
            await queue.submit("sleep", "admin", {"steps": 1, "step_seconds": 0.05})
            for _ in range(3)
        ]
        done = [await eventually(read(queue, job.id), lambda j: j.finished) for job in jobs]
    finally:
        for worker in (first, second):
            worker.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
    runners = set()
    for job in done:
        events = await queue.events(job.id)
        runners |= {e.data["worker"] for e in events if e.data and "worker" in e.data}
    db.close()
    assert [job.status for job in done] == ["succeeded"] * 3
    assert len(runners) == 1  # the lock's holder; the other never claimed


async def test_a_stopped_server_gives_its_job_back_and_the_next_one_finishes_it(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    server = start_server(home, env=IN_SERVER)
    db = open_database(load_settings(home=home))
    queue = JobQueue(db)
    try:
        job = await queue.submit("sleep", "admin", {"steps": 40, "step_seconds": 0.1})
        await eventually(lambda: queue.get(job.id), lambda j: j.progress.done >= 2, 30)
        server.stop()
        assert server.process.returncode == 0
        given_back = await queue.get(job.id)
        assert (given_back.status, given_back.worker_id) == ("queued", None)

        server = start_server(home, env=IN_SERVER)
        done: Job = await eventually(lambda: queue.get(job.id), lambda j: j.finished, 60)
        messages = [event.message for event in await queue.events(job.id)]
    finally:
        server.stop()
        db.close()
    assert (done.status, done.attempts) == ("succeeded", 2)
    assert "Job given back: its worker stopped" in messages
