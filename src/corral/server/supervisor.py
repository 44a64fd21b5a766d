"""`corral serve` runs its workers under a supervisor: a parent process that holds the
listening socket, serves nothing itself, and starts a new worker when one dies.

uvicorn 0.54's `Multiprocess` already replaces a dead or unresponsive worker, but at once and
for ever (a worker that crashes at every request is restarted in a tight loop) and its log
says only that it died. `Supervisor` adds a growing delay between restarts of a worker that
keeps dying, and a log line saying how it ended (exit code or signal). It supervises one
worker too, so a crash of the only serving process no longer ends the service.

A worker dies with its supervisor (`PR_SET_PDEATHSIG`): `kill -9` of the supervisor takes the
whole service down at once, as it did when there was a single process, rather than leaving
workers that nothing would restart.
"""

from __future__ import annotations

import ctypes
import logging
import os
import pickle
import signal
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import wait
from socket import socket

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors.multiprocess import Multiprocess, Process

logger = logging.getLogger("corral.server")

BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 60.0
"""A worker that served this long before dying starts its replacement's delay afresh."""
_PR_SET_PDEATHSIG = 1


@dataclass
class _Slot:
    """One worker's place: the process in it now, and how often it has died in a row."""

    process: Process
    started_at: float
    crashes_in_a_row: int = 0
    restart_at: float | None = None

    def delay_after_death(self, now: float) -> float:
        if now - self.started_at >= STABLE_AFTER_S:
            self.crashes_in_a_row = 0
        self.crashes_in_a_row += 1
        return min(BACKOFF_INITIAL_S * 2.0 ** (self.crashes_in_a_row - 1), BACKOFF_MAX_S)


class Supervisor(Multiprocess):
    def __init__(self, config: Config, sockets: list[socket]) -> None:
        super().__init__(config, sockets)
        self.slots: list[_Slot] = []
        self.startup_failed = False
        """A first worker could not start (bad app, port, database): restarting won't help."""

    def init_processes(self) -> None:
        for _ in range(self.processes_num):
            self.slots.append(_Slot(self._start(), time.monotonic()))
        self.processes = [slot.process for slot in self.slots]

    def keep_subprocess_alive(self) -> None:
        for slot in self.slots:
            if self.should_exit.is_set():
                return
            if slot.restart_at is not None:
                if time.monotonic() >= slot.restart_at:
                    slot.process, slot.started_at = self._start(), time.monotonic()
                    slot.restart_at = None
                continue
            if not answers(slot.process, self.config.timeout_worker_healthcheck):
                self._bury(slot)
        self.processes = [slot.process for slot in self.slots]

    def restart_all(self) -> None:  # SIGHUP: uvicorn replaces every worker, one by one
        super().restart_all()
        for slot, process in zip(self.slots, self.processes, strict=True):
            if slot.process is not process:
                slot.process, slot.started_at, slot.restart_at = process, time.monotonic(), None

    def handle_ttin(self) -> None:
        logger.warning("SIGTTIN ignored: the number of workers is set by --workers")

    def handle_ttou(self) -> None:
        logger.warning("SIGTTOU ignored: the number of workers is set by --workers")

    def _bury(self, slot: _Slot) -> None:
        """Make sure the worker is gone, say why it went, and schedule its replacement."""
        process = slot.process
        process.kill()  # a worker that stopped answering health checks is hung
        process.join()
        if process.exitcode == STARTUP_FAILURE and slot.crashes_in_a_row == 0:
            logger.error("worker failed to start; stopping", extra={"pid": process.pid})
            self.startup_failed = True
            self.should_exit.set()
            return
        now = time.monotonic()
        delay = slot.delay_after_death(now)
        slot.restart_at = now + delay
        logger.error(
            "worker died; restarting it",
            extra={
                "pid": process.pid,
                "cause": describe_exit(process.exitcode),
                "served_s": round(now - slot.started_at, 1),
                "deaths_in_a_row": slot.crashes_in_a_row,
                "restart_in_s": delay,
            },
        )

    def _start(self) -> Process:
        process = Process(self.config, self.sockets)
        process.start()
        return process

    def terminate_all(self) -> None:
        for slot in self.slots:
            if slot.restart_at is None:
                slot.process.terminate()

    def join_all(self) -> None:
        for slot in self.slots:
            if slot.restart_at is None:
                slot.process.join()


def answers(worker: Process, timeout: float) -> bool:
    """Whether the worker answers a health check in time. uvicorn's own check waits out its
    whole timeout when the worker dies under it, since the parent holds both ends of the
    pipe; this one returns as soon as the worker has exited."""
    if not worker.process.is_alive():
        return False
    try:
        worker.parent_conn.send(b"ping")
        ready = wait([worker.parent_conn, worker.process.sentinel], timeout)
        if worker.parent_conn in ready:
            worker.parent_conn.recv()
            return True
    except (OSError, EOFError, pickle.UnpicklingError):
        pass
    return False


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
