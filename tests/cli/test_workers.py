"""`corral serve --workers N`: several processes on one port, sharing limits through Redis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from corral.accounts.admin import AccountsAdmin, KeySpec
from corral.accounts.keys import key_hasher
from corral.jobs import Job, JobQueue
from corral.settings import load_settings
from corral.storage import open_database
from tests.jobs.conftest import eventually
from tests.providers.openai_fake import KEY, OpenAIFake
from tests.providers.server import serving
from tests.support import corral_env, free_port

CONFIG = """
embedded_model = false

[[models]]
name = "mini"
tier = "premium"
backend = "openai-compatible"
base_url = "{url}/v1"
api_key_env = "FAKE_OPENAI_KEY"
upstream_model = "gpt-4o-mini"
"""


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


@pytest.fixture
def workers(
    tmp_path: Path, redis_url: tuple[str, str]
) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    fake = OpenAIFake(keys=(KEY,))
    with serving(fake.app) as url:
        config = tmp_path / "corral.toml"
        config.write_text(CONFIG.format(url=url))
        port = free_port()
        env = corral_env(
            tmp_path, FAKE_OPENAI_KEY=KEY, CORRAL_REDIS_URL=redis_url[0],
            CORRAL_REDIS_NAMESPACE=f"{redis_url[1]}:workers",
            CORRAL_JOBS__WORKER_IN_SERVER="true", CORRAL_JOBS__POLL_S="0.1",
        )  # fmt: skip
        args = ["serve", "--port", str(port), "--workers", "2", "--config", str(config)]
        log = (tmp_path / "server.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "corral", *args], env=env, stdout=log, stderr=log
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(process, base)
            yield process, base, tmp_path
        finally:
            process.terminate()
            process.wait(timeout=20)
            log.close()


def _wait_ready(process: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "corral serve --workers exited"
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("not ready in 60 s")


def test_two_workers_serve_one_port_and_share_the_rate_limit(
    workers: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    process, base, home = workers
    db = open_database(load_settings(home=home, embedded_model=False))
    admin = AccountsAdmin(db, key_hasher(home, None))
    tenant = admin.create_tenant("acme", policy="allow")
    _, key = admin.create_key(tenant.id, KeySpec(rpm=4))
    db.close()
    body = {"model": "mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    headers = {"Authorization": f"Bearer {key}"}

    statuses = []
    for _ in range(10):  # new connections: the kernel spreads them over the workers
        with httpx.Client(base_url=base, timeout=30) as client:
            statuses.append(
                client.post("/v1/chat/completions", json=body, headers=headers).status_code
            )

    assert len(children(process.pid)) >= 2
    assert statuses.count(200) == 4 and statuses.count(429) == 6


def test_a_killed_worker_is_replaced_and_the_cause_logged(
    workers: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    process, base, home = workers
    before = serving_children(process.pid)
    victim = before[0]

    os.kill(victim, signal.SIGSEGV)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = serving_children(process.pid)
        if len(now) == 2 and victim not in now:
            break
        time.sleep(0.1)
    _wait_ready(process, base)

    assert len(now) == 2 and victim not in now and before[1] in now
    lines = (home / "server.log").read_text().splitlines()
    died = [json.loads(line) for line in lines if "worker died" in line]
    assert [(line["pid"], line["cause"]) for line in died] == [(victim, "killed by SIGSEGV")]


def serving_children(pid: int) -> list[int]:
    """The workers, not multiprocessing's resource tracker."""
    return [
        child
        for child in children(pid)
        if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def test_workers_without_redis_are_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "corral", "serve", "--workers", "2"],
        env=corral_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "CORRAL_REDIS_URL" in result.stderr


async def test_of_two_workers_one_runs_the_jobs(
    workers: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    process, _, home = workers
    db = open_database(load_settings(home=home, embedded_model=False))
    queue = JobQueue(db)
    try:
        jobs = [await queue.submit("sleep", "admin", {"step_seconds": 0.05}) for _ in range(4)]
        done = [await eventually(reader(queue, job.id), lambda j: j.finished, 60) for job in jobs]
        runners = set()
        for job in done:
            events = await queue.events(job.id)
            runners |= {e.data["worker"] for e in events if e.data and "worker" in e.data}
    finally:
        db.close()
    assert [job.status for job in done] == ["succeeded"] * 4
    assert len(runners) == 1  # the one holding the home's job lock
    (runner,) = runners
    assert int(runner.split(":")[1]) in children(process.pid)


def reader(queue: JobQueue, job_id: str) -> Callable[[], Awaitable[Job]]:
    return lambda: queue.get(job_id)
