"""The job worker inside `corral serve` (`[jobs] worker_in_server`, on by default).

One process per `CORRAL_HOME` runs it: with `--workers N` each server process tries a lock file
(`CORRAL_HOME/jobs/worker.lock`, `flock`), the one holding it runs jobs, and the others try
again every few seconds, so a restarted process takes over when the holder dies (the kernel
drops a dead process's lock). Several machines sharing PostgreSQL each run theirs: the queue's
claims (`SKIP LOCKED`) give each job to one of them. It runs one job at a time, training with
its own thread budget (`jobs.worker_threads`), and at shutdown gives its job back (resumed from
the checkpoint by the next worker), as a stopped `corral worker` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import IO

from corral.evals.wiring import eval_handler
from corral.finetune.handler import FineTuningHandler, TrainingConfig
from corral.finetune.params import KIND as FINE_TUNING
from corral.jobs import JobHandler, Worker, builtin_handlers
from corral.jobs.metrics import JobMetrics
from corral.services import Services

logger = logging.getLogger("corral.jobs")
LOCK_FILE = "jobs/worker.lock"
RETRY_LOCK_S = 5.0


def server_handlers(services: Services) -> dict[str, JobHandler]:
    """The job kinds a server runs, on its own services (an evaluation uses the models the
    server already loaded)."""
    settings = services.settings
    threads = settings.jobs.worker_threads or max(1, (os.cpu_count() or 1) // 2)
    training = FineTuningHandler(
        services.db, settings, TrainingConfig(threads=threads), ledger=services.ledger
    )
    return builtin_handlers() | {
        FINE_TUNING: training,
        "eval_run": eval_handler(settings, services),
    }


class ServerWorker:
    """Runs `worker` while this process holds the home's lock; `stop` ends it cleanly."""

    def __init__(self, worker: Worker, lock_path: Path) -> None:
        self.worker = worker
        self._lock_path = lock_path
        self._lock: IO[bytes] | None = None
        self._stopping = asyncio.Event()

    @classmethod
    def build(cls, services: Services) -> ServerWorker:
        config = services.settings.jobs
        metrics = JobMetrics(services.metrics.registry)
        metrics.watch_queue(services.jobs.counts)
        worker = Worker(
            services.jobs,
            server_handlers(services),
            concurrency=1,
            lease_s=config.lease_s,
            heartbeat_s=config.heartbeat_s,
            poll_s=config.poll_s,
            metrics=metrics,
        )
        return cls(worker, services.settings.home / LOCK_FILE)

    async def run(self) -> None:
        while not self._stopping.is_set():
            if self._take_lock():
                try:
                    await self.worker.run()
                finally:
                    self._drop_lock()
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), RETRY_LOCK_S)

    def stop(self) -> None:
        self._stopping.set()
        self.worker.stop()

    def _take_lock(self) -> bool:
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._lock_path.open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._lock = handle
        return True

    def _drop_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file releases the lock
            self._lock = None
