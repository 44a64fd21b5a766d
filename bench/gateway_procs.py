"""Processes for bench/gateway.py: servers pinned to CPUs, wrk runs, memory and CPU from /proc.

Nothing here knows about corral or LiteLLM: a `ServerSpec` is a command, its environment, the
CPUs it may use and the URL that answers 200 once it is ready.
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

import httpx

HOST = "127.0.0.1"
READY_TIMEOUT_S = 120.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
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


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server, where it may run, and how to know it is ready."""

    name: str
    command: list[str]
    env: dict[str, str]
    cpus: str
    port: int
    ready_path: str

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env() -> dict[str, str]:
    """The environment without CORRAL_* variables, so the user's own settings do not leak in."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants (from /proc/PID/task/*/children)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        with contextlib.suppress(OSError, ValueError):
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
    return found


def rss_mb(pid: int) -> float:
    """VmRSS of one process in MB (10^6 bytes); 0 if it is gone."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e6
    return 0.0


def memory(pid: int) -> dict[str, float]:
    """RSS of the whole process tree and of its largest process (one worker), in MB."""
    sizes = [rss_mb(member) for member in process_tree(pid)]
    return {"rss_mb": round(sum(sizes), 1), "largest_process_mb": round(max(sizes), 1)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process tree so far: its live processes' own, plus what
    their exited (reaped) children took, so a worker that exits is still counted."""
    total = 0.0
    for member in process_tree(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{member}/stat").read_text()
            parts = stat[stat.rindex(")") + 2 :].split()
            total += sum(int(v) for v in parts[11:15]) / CLK_TCK
    return total


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (everything but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:3]) + sum(fields[5:8])) / CLK_TCK


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wait_ready(proc: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with status {proc.returncode} before ready")
            with contextlib.suppress(httpx.HTTPError):
                if http.get(url).status_code == 200:
                    return
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer 200 within {READY_TIMEOUT_S:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


@contextlib.contextmanager
def running(spec: ServerSpec, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server under `taskset`, wait until it is ready, yield it; always stop it."""
    command = ["taskset", "-c", spec.cpus, *spec.command]
    with log.open("wb") as log_file:
        proc = subprocess.Popen(command, env=spec.env, stdout=log_file, stderr=log_file)
        try:
            wait_ready(proc, spec.base_url + spec.ready_path)
            yield proc
        except BaseException:
            tail = log.read_text(errors="replace")[-3000:]
            sys.stderr.write(f"--- end of the {spec.name} log ({log}) ---\n{tail}\n")
            raise
        finally:
            stop(proc)


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
