"""`corral worker` processes: one killed outright mid-job, the next resumes the job from its
last checkpoint, and every step is done and logged once."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from corral.jobs import Job, JobQueue
from tests.jobs.conftest import eventually
from tests.support import corral_env

STEPS = 8
WORKER_OPTIONS = ["--kind", "sleep", "--lease-seconds", "1", "--heartbeat-seconds", "0.2"]


def start_worker(home: Path, database_url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "corral", "worker", *WORKER_OPTIONS],
        env=corral_env(home, CORRAL_DATABASE_URL=database_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_a_killed_worker_process_job_is_finished_once_by_the_next(
    queue: JobQueue, database_url: str, tmp_path: Path
) -> None:
    job = await queue.submit("sleep", "admin", {"steps": STEPS, "step_seconds": 0.25})
    first = start_worker(tmp_path, database_url)
    try:
        await eventually(lambda: queue.get(job.id), lambda j: j.progress.done >= 3, 60)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    second = start_worker(tmp_path, database_url)
    try:
        done: Job = await eventually(lambda: queue.get(job.id), lambda j: j.finished, 60)
    finally:
        second.send_signal(signal.SIGTERM)
        stopped = second.wait(10)

    assert stopped == 0  # a clean stop
    assert (done.status, done.attempts) == ("succeeded", 2)
    assert done.result is not None and done.result["resumed_from"] >= 3
    events = await queue.events(job.id)
    steps = Counter(event.data["step"] for event in events if event.data and "step" in event.data)
    assert steps == Counter(range(1, STEPS + 1))
    assert [event.message for event in events].count("Job resumed from its checkpoint") == 1
