"""`corral serve` outlives a crash of its worker: the supervisor starts a new one, waits longer
each time it keeps dying, says why it died, and stops cleanly when told to."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import RunningServer, corral_env, free_port, start_server

BACK_WITHIN_S = 20.0


def the_worker(server: RunningServer, not_this: int | None = None) -> int:
    """The one worker, once it answers (and is not `not_this`)."""
    deadline = time.monotonic() + BACK_WITHIN_S
    while time.monotonic() < deadline:
        assert server.process.poll() is None, server.log_text()
        pids = server.worker_pids()
        if len(pids) == 1 and pids[0] != not_this and answers(server):
            return pids[0]
        time.sleep(0.1)
    raise AssertionError(f"no new worker answered in {BACK_WITHIN_S} s:\n{server.log_text()}")


def answers(server: RunningServer) -> bool:
    try:
        return httpx.get(f"{server.base_url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def deaths(server: RunningServer) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in server.log_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line["message"] == "worker died; restarting it"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(tmp_path / "home", "embedded_model = false\n")
    yield running
    running.stop()


def test_a_worker_killed_by_a_segfault_is_replaced_and_the_cause_logged(
    server: RunningServer,
) -> None:
    first = the_worker(server)

    os.kill(first, signal.SIGSEGV)
    second = the_worker(server, not_this=first)
    os.kill(second, signal.SIGKILL)
    third = the_worker(server, not_this=second)

    assert third not in (first, second)
    died = deaths(server)
    assert [(d["pid"], d["cause"]) for d in died] == [
        (first, "killed by SIGSEGV"),
        (second, "killed by SIGKILL"),
    ]
    assert [d["restart_in_s"] for d in died] == [0.5, 1.0]  # a worker that keeps dying waits


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_supervisor_stops_cleanly_and_takes_its_worker_with_it(
    server: RunningServer, stop: signal.Signals
) -> None:
    worker = the_worker(server)

    server.process.send_signal(stop)
    code = server.process.wait(timeout=20)

    assert code == 0
    assert not Path(f"/proc/{worker}").exists()
    assert deaths(server) == []


def test_a_worker_does_not_outlive_a_killed_supervisor(server: RunningServer) -> None:
    worker = the_worker(server)

    server.process.kill()
    server.process.wait()

    deadline = time.monotonic() + 5
    while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{worker}").exists()
    assert not answers(server)


def test_sighup_replaces_the_worker_without_a_gap_in_service(server: RunningServer) -> None:
    worker = the_worker(server)

    server.process.send_signal(signal.SIGHUP)
    answered = []
    deadline = time.monotonic() + BACK_WITHIN_S
    while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
        answered.append(answers(server))
        time.sleep(0.05)

    assert not Path(f"/proc/{worker}").exists(), server.log_text()
    assert answered and all(answered)  # the new worker served before the old one was told to stop
    assert the_worker(server) != worker
    assert deaths(server) == []


def test_the_service_is_its_supervisor_and_workers_only(server: RunningServer) -> None:
    worker = the_worker(server)

    supervisor = Path(f"/proc/{server.process.pid}/cmdline").read_bytes().split(b"\0")
    serving = Path(f"/proc/{worker}/cmdline").read_bytes().split(b"\0")

    # corral serve became a small supervisor (no CLI, settings models or web framework
    # loaded), and no helper process (multiprocessing's resource tracker) runs beside it.
    assert supervisor[1:3] == [b"-m", b"corral.server.supervisor"]
    assert serving[1:3] == [b"-m", b"corral.server.worker"]
    assert server.worker_pids() == [worker]


def test_a_worker_that_cannot_start_stops_the_service_with_an_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "corral.db").mkdir()  # where the database file should be

    result = subprocess.run(
        [sys.executable, "-m", "corral", "serve", "--port", str(free_port())],
        env=corral_env(home, CORRAL_EMBEDDED_MODEL="false"),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: the server could not start")


def test_a_port_in_use_is_refused_with_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = subprocess.run(
            [sys.executable, "-m", "corral", "serve", "--port", str(port)],
            env=corral_env(tmp_path / "home", CORRAL_EMBEDDED_MODEL="false"),
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
