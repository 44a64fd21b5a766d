"""`corral serve` runs its workers under a supervisor: a parent process that holds the
listening socket, serves nothing itself, and starts a new worker when one dies.

It adds to a plain restart a growing delay between restarts of a worker that keeps dying, and
a log line saying how it ended (exit code or signal). It supervises one worker too, so a crash
of the only serving process does not end the service.

`corral serve` reads and checks the settings, binds the port, then replaces itself with this
module (`python -m corral.server.supervisor`, the socket inherited), which imports only the
standard library and corral's log format: a process that waits for ever holds ~10 MB instead
of the ~45 MB of the CLI, its settings models and uvicorn. Workers are started with
`subprocess` (`corral.server.worker`), not multiprocessing, whose spawn method keeps a
resource-tracker process beside them (~12 MB) for semaphores that corral does not use.

A worker dies with its supervisor (`PR_SET_PDEATHSIG`): `kill -9` of the supervisor takes the
whole service down at once rather than leaving workers that nothing would restart.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

logger = logging.getLogger("corral.server")

BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 60.0
"""A worker that served this long before dying starts its replacement's delay afresh."""
STARTUP_FAILURE = 3
"""A worker's exit code when it cannot start (bad settings, database): uvicorn's, too."""
PING, READY, STARTING = b"?", b"1", b"0"
"""The health check: the supervisor asks, the worker says whether it serves yet."""
HEALTH_TIMEOUT_S = 60.0
"""A worker loading its models on a busy machine may take a while to answer a health check;
restarting it then only makes things worse."""
_PR_SET_PDEATHSIG = 1
_TICK_S = 0.5
_HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU)


class Worker:
    """One worker process and the socket pair its health is checked over."""

    def __init__(self, listener: int) -> None:
        self._health, theirs = socket.socketpair()
        command = [sys.executable, "-m", "corral.server.worker", "--listener", str(listener)]
        command += ["--health", str(theirs.fileno()), "--supervisor", str(os.getpid())]
        with theirs:
            self.process = subprocess.Popen(command, pass_fds=(listener, theirs.fileno()))
        self.pid = self.process.pid

    @property
    def exitcode(self) -> int | None:
        """As multiprocessing's: negative for the signal that ended it."""
        return self.process.poll()

    def state(self, timeout: float) -> bytes | None:
        """READY or STARTING if the worker answers in time; None if it is gone or hung. Returns
        as soon as it exits: the supervisor holds only its own end of the pair."""
        if self.process.poll() is not None:
            return None
        try:
            self._health.sendall(PING)
            if select.select([self._health], [], [], timeout)[0]:
                return self._health.recv(1) or None
        except OSError:
            pass
        return None

    def wait_until_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.state(1.0)
            if answer == READY:
                return True
            if answer is None and self.process.poll() is not None:
                return False
            time.sleep(0.1)
        return False

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: uvicorn finishes the requests in flight

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()

    def join(self) -> None:
        self.process.wait()
        self._health.close()


@dataclass
class _Slot:
    """One worker's place: the process in it now, and how often it has died in a row."""

    worker: Worker
    started_at: float
    crashes_in_a_row: int = 0
    restart_at: float | None = None

    def delay_after_death(self, now: float) -> float:
        if now - self.started_at >= STABLE_AFTER_S:
            self.crashes_in_a_row = 0
        self.crashes_in_a_row += 1
        return min(BACKOFF_INITIAL_S * 2.0 ** (self.crashes_in_a_row - 1), BACKOFF_MAX_S)


class Supervisor:
    """Keeps `workers` worker processes serving `listener` until SIGTERM or SIGINT; SIGHUP
    replaces each worker, its replacement serving before the old one is told to stop."""

    def __init__(self, listener: int, workers: int, health_timeout_s: float) -> None:
        self.listener = listener
        self.workers = workers
        self.health_timeout_s = health_timeout_s
        self.slots: list[_Slot] = []
        self.startup_failed = False
        """A first worker could not start (bad app, port, database): restarting won't help."""
        self._exiting = False
        self._signals: list[int] = []

    def run(self) -> None:
        for signum in _HANDLED:
            signal.signal(signum, lambda signum, _: self._signals.append(signum))
        logger.info("supervising", extra={"pid": os.getpid(), "workers": self.workers})
        self.slots = [_Slot(self._start(), time.monotonic()) for _ in range(self.workers)]
        while True:
            self._handle_signals()
            if self._exiting:
                break
            self._keep_alive()
            if self._exiting:
                break
            time.sleep(_TICK_S)
        running = [slot.worker for slot in self.slots if slot.restart_at is None]
        for worker in running:
            worker.terminate()
        for worker in running:
            worker.join()

    def _handle_signals(self) -> None:
        while self._signals:
            signum = self._signals.pop(0)
            if signum in (signal.SIGINT, signal.SIGTERM):
                self._exiting = True
            elif signum == signal.SIGHUP:
                self._restart_all()
            else:
                logger.warning(
                    "%s ignored: the number of workers is set by --workers",
                    signal.Signals(signum).name,
                )

    def _keep_alive(self) -> None:
        for slot in self.slots:
            if slot.restart_at is not None:
                if time.monotonic() >= slot.restart_at:
                    slot.worker, slot.started_at = self._start(), time.monotonic()
                    slot.restart_at = None
            elif slot.worker.state(self.health_timeout_s) is None:
                self._bury(slot)
            if self._exiting:
                return

    def _restart_all(self) -> None:
        """Replace each worker in turn, the new one serving before the old one stops."""
        for slot in self.slots:
            if slot.restart_at is not None:
                continue
            replacement = self._start()
            if not replacement.wait_until_ready(self.health_timeout_s):
                replacement.kill()
                replacement.join()
                logger.error(
                    "a new worker was not ready in time; keeping the old ones",
                    extra={"pid": replacement.pid, "kept": slot.worker.pid},
                )
                return
            slot.worker.terminate()
            slot.worker.join()
            slot.worker, slot.started_at = replacement, time.monotonic()

    def _bury(self, slot: _Slot) -> None:
        """Make sure the worker is gone, say why it went, and schedule its replacement."""
        worker = slot.worker
        worker.kill()  # a worker that stopped answering health checks is hung
        worker.join()
        if worker.exitcode == STARTUP_FAILURE and slot.crashes_in_a_row == 0:
            logger.error("worker failed to start; stopping", extra={"pid": worker.pid})
            self.startup_failed = True
            self._exiting = True
            return
        now = time.monotonic()
        delay = slot.delay_after_death(now)
        slot.restart_at = now + delay
        logger.error(
            "worker died; restarting it",
            extra={
                "pid": worker.pid,
                "cause": describe_exit(worker.exitcode),
                "served_s": round(now - slot.started_at, 1),
                "deaths_in_a_row": slot.crashes_in_a_row,
                "restart_in_s": delay,
            },
        )

    def _start(self) -> Worker:
        return Worker(self.listener)


def describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


def die_with_parent(parent_pid: int) -> None:
    """In a worker: be killed when the supervisor dies (Linux), or leave now if it is gone."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


def command(listener: int, workers: int, log_level: str) -> list[str]:
    """The command line `corral serve` execs into, keeping `listener` open across."""
    return [
        sys.executable, "-m", "corral.server.supervisor", "--listener", str(listener),
        "--workers", str(workers), "--log-level", log_level,
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    from corral.observability import logging as corral_logging

    parser = argparse.ArgumentParser(prog="corral serve (supervisor)")
    parser.add_argument("--listener", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--health-timeout", type=float, default=HEALTH_TIMEOUT_S)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    corral_logging.configure(args.log_level)
    supervisor = Supervisor(args.listener, args.workers, args.health_timeout)
    supervisor.run()
    if supervisor.startup_failed:
        print("error: the server could not start; the log above says why", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
