"""Server processes for the benchmarks: start one, wait until it is ready, always stop it; free
ports, a clean environment, the server's log; its memory and CPU time from /proc.

Nothing here knows about corral, LiteLLM or llama_cpp.server: a `ServerSpec` is a command, its
environment, the CPUs it may use (if pinned) and the URL that answers 200 once it is ready.
"""

from __future__ import annotations

import contextlib
import os
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
# Fine-grained, because bench/local_inference.py reports the ready time.
READY_POLL_S = 0.02
STOP_TIMEOUT_S = 20.0
LOG_TAIL_CHARS = 4000
CLK_TCK = os.sysconf("SC_CLK_TCK")
STATUS_FIELDS = {"VmRSS:": "rss_mb", "RssAnon:": "anon_mb", "RssFile:": "file_mb"}


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server, where it may run, and how to know it is ready."""

    name: str
    command: list[str]
    env: dict[str, str]
    cpus: str | None
    """`taskset -c` CPU list the server is pinned to; None leaves it unpinned."""
    port: int
    ready_path: str

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"


@dataclass(frozen=True)
class Started:
    """A server that answered its ready URL: its process and how long it took to get there."""

    proc: subprocess.Popen[bytes]
    ready_s: float

    @property
    def pid(self) -> int:
        return self.proc.pid


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env() -> dict[str, str]:
    """The environment without CORRAL_* variables, so the user's own settings do not leak in."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}


def wait_ready(proc: subprocess.Popen[bytes], url: str, started: float) -> float:
    """Poll `url` until it answers 200; return seconds since `started`. Bounded in time."""
    deadline = started + READY_TIMEOUT_S
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with status {proc.returncode} before ready")
            with contextlib.suppress(httpx.HTTPError):
                if http.get(url).status_code == 200:
                    return time.monotonic() - started
            time.sleep(READY_POLL_S)
    raise TimeoutError(f"{url} did not answer 200 within {READY_TIMEOUT_S:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)


@contextlib.contextmanager
def running(spec: ServerSpec, log: Path) -> Iterator[Started]:
    """Start a server (under `taskset` if it has CPUs), wait until it is ready, yield it; always
    stop it. Its output goes to `log`, whose end is printed if it fails."""
    command = ["taskset", "-c", spec.cpus, *spec.command] if spec.cpus else spec.command
    with log.open("wb") as log_file:
        started = time.monotonic()
        proc = subprocess.Popen(command, env=spec.env, stdout=log_file, stderr=log_file)
        try:
            yield Started(proc, wait_ready(proc, spec.base_url + spec.ready_path, started))
        except BaseException:
            tail = log.read_text(errors="replace")[-LOG_TAIL_CHARS:]
            sys.stderr.write(f"--- end of the {spec.name} log ({log}) ---\n{tail}\n")
            raise
        finally:
            stop(proc)


# -- memory and CPU from /proc -------------------------------------------------------------------


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


def process_memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (and its anonymous and file-backed parts) of one process in MB (10^6 bytes); 0 for
    what it does not report, and for all of it once it is gone."""
    sizes = dict.fromkeys(STATUS_FIELDS.values(), 0.0)
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(maxsplit=1)[0] if line else ""
            if key in STATUS_FIELDS:
                sizes[STATUS_FIELDS[key]] += int(line.split()[1]) * 1024 / 1e6
    return sizes


def tree_memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (and its anonymous and file-backed parts) of a process tree, in MB."""
    totals = dict.fromkeys(STATUS_FIELDS.values(), 0.0)
    for member in process_tree(pid):
        for key, size in process_memory_mb(member).items():
            totals[key] += size
    return totals


def memory(pid: int) -> dict[str, float]:
    """RSS of the whole process tree and of its largest process (one worker), in MB."""
    sizes = [process_memory_mb(member)["rss_mb"] for member in process_tree(pid)]
    return {"rss_mb": round(sum(sizes), 1), "largest_process_mb": round(max(sizes), 1)}


def cpu_seconds(pid: int, reaped: bool = True) -> float:
    """User + system CPU time of a process tree so far: its live processes' own, plus (if
    `reaped`) what their exited children took, so a worker that exits is still counted."""
    total = 0.0
    for member in process_tree(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{member}/stat").read_text()
            parts = stat[stat.rindex(")") + 2 :].split()
            total += sum(int(v) for v in parts[11 : 15 if reaped else 13]) / CLK_TCK
    return total


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (everything but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    # user nice system idle iowait irq softirq steal: everything but idle and iowait is busy.
    return (sum(fields[:3]) + sum(fields[5:8])) / CLK_TCK


class CpuMeter:
    """CPU time taken by everything except the server tree and this client, as a machine share."""

    def __init__(self, server_pid: int) -> None:
        self._pid = server_pid
        self._start = self._read()

    def _read(self) -> tuple[float, float, float, float]:
        wall, busy = time.monotonic(), machine_busy_seconds()
        server = cpu_seconds(self._pid, reaped=False)
        own = os.times()
        return wall, busy, server, own.user + own.system

    def foreign_share(self) -> float:
        end = self._read()
        wall, busy, server, own = (b - a for a, b in zip(self._start, end, strict=True))
        return max(0.0, busy - server - own) / (wall * (os.cpu_count() or 1))
