"""`corral jobs list | show | events | cancel | sleep`: the job queue, read from the database.

These work on the database directly, like the account commands: no server needs to be up.
`sleep` queues a diagnostic job that only waits, to try the workers (crash, resume, cancel).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from corral.cli.common import ConfigOption, JsonOption, database, make_table, print_json, show
from corral.finetune.params import KIND as FINE_TUNING
from corral.jobs import Event, Job, JobQueue
from corral.jobs.sleep import KIND as SLEEP

app = typer.Typer(help="Queued and running jobs (fine-tuning, evaluations).", no_args_is_help=True)
T = TypeVar("T")
OWNER = "admin"
Owner = Annotated[str, typer.Option("--tenant", help="Whose jobs: a tenant id, or admin.")]
JobId = Annotated[str, typer.Argument(help="The job's id.")]


def _run(config: Path | None, work: Callable[[JobQueue], Coroutine[Any, Any, T]]) -> T:
    with database(config) as (_, db):
        return asyncio.run(work(JobQueue(db)))


@app.command("list")
def list_jobs(
    tenant: Owner = OWNER,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """A tenant's jobs, newest first."""
    jobs = _run(config, lambda queue: queue.list_jobs(tenant, limit=limit))
    if as_json:
        print_json({"data": [job_json(job) for job in jobs]})
        return
    from rich.console import Console

    table = make_table("id", "kind", "status", "progress", "attempts", "created")
    for job in jobs:
        table.add_row(
            job.id,
            job.kind,
            job.status,
            progress_text(job),
            str(job.attempts),
            job.created_at.isoformat(timespec="seconds"),
        )
    Console().print(table)


@app.command("show")
def show_job(job_id: JobId, config: ConfigOption = None) -> None:
    """One job as JSON: its status, progress (with an ETA), result or error."""
    job = _run(config, lambda queue: queue.get(job_id))
    print_json(job_json(job))


@app.command()
def events(job_id: JobId, config: ConfigOption = None) -> None:
    """A job's events, oldest first."""
    found = _run(config, lambda queue: queue.events(job_id, limit=10_000))
    for event in found:
        typer.echo(event_line(event))


def event_line(event: Event) -> str:
    return f"{event.created_at.isoformat(timespec='seconds')} {event.level:5} {event.message}"


@app.command()
def cancel(job_id: JobId, config: ConfigOption = None) -> None:
    """Cancel a job: at once if no worker holds it, else within its worker's next heartbeat."""
    if _run(config, lambda queue: queue.get(job_id)).kind == FINE_TUNING:
        from corral.cli.finetune import cancel as cancel_fine_tuning

        cancel_fine_tuning(job_id, config)  # which also gives back the job's quote
        return
    job = _run(config, lambda queue: queue.request_cancel(job_id))
    typer.echo(f"{job.id}: {job.status}{' (cancel requested)' if not job.finished else ''}")


@app.command()
def sleep(
    steps: Annotated[int, typer.Option(min=1)] = 10,
    step_seconds: Annotated[float, typer.Option(min=0)] = 1.0,
    config: ConfigOption = None,
) -> None:
    """Queue a diagnostic job whose steps only wait; prints its id."""
    params = {"steps": steps, "step_seconds": step_seconds}
    job = _run(config, lambda queue: queue.submit(SLEEP, OWNER, params, total=steps))
    typer.echo(job.id)


def job_json(job: Job) -> dict[str, Any]:
    eta = job.eta_seconds(dt.datetime.now(dt.UTC))
    return {
        "id": job.id,
        "kind": job.kind,
        "tenant_id": job.tenant_id,
        "status": job.status,
        "params": job.params,
        "progress": job.progress.to_json() | {"eta_seconds": eta},
        "result": job.result,
        "error": job.error,
        "cancel_requested": job.cancel_requested,
        "attempts": job.attempts,
        "worker_id": job.worker_id,
        "created_at": job.created_at.isoformat(),
        "started_at": show_time(job.started_at),
        "finished_at": show_time(job.finished_at),
    }


def show_time(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def progress_text(job: Job) -> str:
    total = show(job.progress.total)
    return f"{job.progress.done}/{total}"
