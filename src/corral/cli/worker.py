"""`corral worker`: run queued jobs from the configured database until stopped.

Start as many as you like, on as many machines as share the database (PostgreSQL): each job
runs on one of them. SIGTERM or Ctrl-C stops a worker cleanly, giving its jobs back at once; a
worker killed outright leaves its jobs to be resumed by another once their leases expire.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from corral.cli.common import ConfigOption, settings_from
from corral.errors import ConfigError
from corral.finetune.handler import FineTuningHandler
from corral.finetune.params import KIND as FINE_TUNING
from corral.jobs import JobHandler, JobQueue, Worker, builtin_handlers
from corral.jobs.metrics import JobMetrics
from corral.metering.ledger import Ledger
from corral.observability import logging as corral_logging
from corral.settings import Settings
from corral.storage import Database, open_database

KindOption = Annotated[
    list[str] | None,
    typer.Option("--kind", help="A job kind to run (repeat it); default: every kind it knows."),
]


def worker(
    kind: KindOption = None,
    concurrency: Annotated[int, typer.Option(help="Jobs run at once.", min=1)] = 1,
    lease_seconds: Annotated[
        float,
        typer.Option(help="A job is resumed elsewhere this long after its worker died.", min=0.1),
    ] = 30.0,
    heartbeat_seconds: Annotated[
        float, typer.Option(help="How often leases are renewed and cancellations noticed.")
    ] = 2.0,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve Prometheus metrics on this port (on the server's host)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Run queued jobs (fine-tuning, evaluations) until stopped."""
    settings = settings_from(config)
    corral_logging.configure(settings.server.log_level)
    db = open_database(settings)
    ledger = Ledger(db, settings.billing.reservation_timeout_s)
    try:
        handlers = _chosen(job_handlers(db, settings, ledger), kind)
        queue = JobQueue(db)
        metrics = None if metrics_port is None else _serve_metrics(queue, settings, metrics_port)
        jobs = Worker(
            queue,
            handlers,
            concurrency=concurrency,
            lease_s=lease_seconds,
            heartbeat_s=heartbeat_seconds,
            metrics=metrics,
        )
        asyncio.run(_run_until_signalled(jobs, ledger))
    finally:
        db.close()


def job_handlers(
    db: Database, settings: Settings, ledger: Ledger | None = None
) -> dict[str, JobHandler]:
    """Every job kind this worker can run (fine-tuning imports torch, evaluations load their
    models, only once a job of theirs runs); fine-tuning jobs are billed in `ledger`."""
    from corral.evals.wiring import eval_handler

    return builtin_handlers() | {
        FINE_TUNING: FineTuningHandler(db, settings, ledger=ledger),
        "eval_run": eval_handler(settings),
    }


def _chosen(handlers: dict[str, JobHandler], kinds: list[str] | None) -> dict[str, JobHandler]:
    if not kinds:
        return handlers
    unknown = sorted(set(kinds) - set(handlers))
    if unknown:
        known = ", ".join(sorted(handlers))
        raise ConfigError(f"unknown job kind {', '.join(unknown)} (known: {known})")
    return {kind: handlers[kind] for kind in kinds}


def _serve_metrics(queue: JobQueue, settings: Settings, port: int) -> JobMetrics:
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry()
    metrics = JobMetrics(registry)
    metrics.watch_queue(queue.counts)
    start_http_server(port, settings.server.host, registry=registry)
    return metrics


async def _run_until_signalled(jobs: Worker, ledger: Ledger) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, jobs.stop)
    try:
        await jobs.run()
    finally:
        await ledger.aclose()
