"""Load and placement for bench/gateway.py: wrk runs, py-spy profiles, CPUs pinned with
`taskset`, loopback round trips. Starting and stopping the servers is bench/procs.py's.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from procs import HOST

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk" / "chat.lua"
WRK_MARKER = "WRK_JSON "
# Frames every sample goes through (entry points, the event loop, thread pools): left out of
# the profile summary, which is about where a request's time goes.
WRAPPERS = (
    "process ",
    "<module>",
    "typer/",
    "_click/",
    "corral/cli/",
    "asyncio/",
    "uvicorn/server",
    "uvicorn/_compat",
    "uvicorn/main",
    "threading.py",
    "concurrent/futures",
    "multiprocessing/",
    "uvicorn/supervisors",
    "subprocess_started",
    "<string>",
)


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Load:
    """One wrk run: where it sends, what, how hard and for how long."""

    url: str
    model: str
    key: str
    stream: bool
    concurrency: int
    seconds: int
    cpus: str


@contextlib.contextmanager
def profiling(py_spy: Path | None, pid: int, seconds: int, out: Path) -> Iterator[None]:
    """Sample `pid` and its subprocesses with py-spy for `seconds` while the body runs."""
    if py_spy is None:
        yield
        return
    command = [str(py_spy), "record", "-p", str(pid), "-d", str(seconds), "-r", "250"]
    command += ["--subprocesses", "--nonblocking", "-f", "raw", "-o", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        proc.wait(timeout=seconds + 30)


def profile_top(raw: Path, limit: int = 25) -> list[tuple[str, float, float]]:
    """The functions most often on the stack in a py-spy raw profile: (function, share of
    samples with it anywhere on the stack, share with it running itself), by the latter."""
    if not raw.exists():
        return []
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f.split(":")[0] for f in stack.split(";")]
        total += int(count)
        own[frames[-1]] = own.get(frames[-1], 0) + int(count)
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + int(count)
    ranked = sorted(own.items(), key=lambda item: -item[1])
    interesting = [f for f, _ in ranked if not any(w in f for w in WRAPPERS)]
    return [
        (f + ")", round(inclusive[f] / total, 3), round(own[f] / total, 3))
        for f in interesting[:limit]
    ]


def run_wrk(load: Load) -> dict[str, float]:
    """Run wrk (one thread, pinned) with bench/wrk/chat.lua; its summary plus its CPU time."""
    command = ["taskset", "-c", load.cpus, "chrt", "-b", "0", "wrk", "-t1", f"-c{load.concurrency}"]
    command += [f"-d{load.seconds}s", "--timeout", "30s", "-s", str(WRK_SCRIPT)]
    command.append(load.url + "/v1/chat/completions")
    env = os.environ | {
        "BENCH_MODEL": load.model,
        "BENCH_KEY": load.key,
        "BENCH_STREAM": "1" if load.stream else "0",
    }
    before = children_cpu_seconds()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    for line in done.stdout.splitlines():
        if line.startswith(WRK_MARKER):
            summary: dict[str, float] = json.loads(line.removeprefix(WRK_MARKER))
            summary["cpu_s"] = children_cpu_seconds() - before
            return summary
    raise RuntimeError(f"wrk printed no summary:\n{done.stdout}\n{done.stderr}")


def services_pinned_now(names: tuple[str, ...], cpus: str) -> None:
    """Pin the running processes called `names` (PostgreSQL, Redis: they serve the gateway but
    are not the gateway) to `cpus`. Connections PostgreSQL forks later inherit the postmaster's
    CPUs."""
    pids = [
        int(pid)
        for name in names
        for pid in subprocess.run(
            ["pgrep", "-x", name], capture_output=True, text=True
        ).stdout.split()
    ]
    for pid in pids:
        subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(pid)], capture_output=True)


def repin(pid: int, cpus: str) -> None:
    """Move a running process (all its threads) to `cpus`."""
    subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(pid)], capture_output=True, check=True)


_ECHO = """
import socket, sys
server = socket.create_server(("127.0.0.1", 0))
print(server.getsockname()[1], flush=True)
conn, _ = server.accept()
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
while data := conn.recv(64):
    conn.sendall(data)
"""


def loopback_round_trip_us(client_cpu: str, echo_cpu: str, count: int = 2000) -> dict[str, float]:
    """Microseconds (median and mean) for 32 bytes to go to an echo process on loopback TCP and
    back, with the client pinned to `client_cpu` and the echo to `echo_cpu`."""
    echo = subprocess.Popen(
        ["taskset", "-c", echo_cpu, sys.executable, "-c", _ECHO],
        stdout=subprocess.PIPE,
        text=True,
    )
    before = os.sched_getaffinity(0)
    try:
        assert echo.stdout is not None
        port = int(echo.stdout.readline())
        os.sched_setaffinity(0, {int(client_cpu)})
        with socket.create_connection((HOST, port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            times = []
            for _ in range(count):
                started = time.perf_counter()
                sock.sendall(b"x" * 32)
                received = 0
                while received < 32:
                    received += len(sock.recv(64))
                times.append(time.perf_counter() - started)
        times.sort()
        median, mean = times[len(times) // 2], sum(times) / len(times)
        return {"median": round(median * 1e6, 1), "mean": round(mean * 1e6, 1)}
    finally:
        os.sched_setaffinity(0, before)
        echo.kill()
        echo.wait()
