"""`corral finetune create | list | show | events | cancel | watch`: a tenant's fine-tuning
jobs, queued, read, cancelled and followed.

Like `corral files`, these work on the server's database and home directly (no server needed);
a `corral worker` runs the jobs. They are `corral jobs`' commands narrowed to fine-tuning jobs,
with the quote reserved at creation and given back at a cancel, as the API does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from corral.cli.common import (
    ConfigOption,
    JsonOption,
    accounts,
    database,
    make_table,
    print_json,
    show,
)
from corral.cli.jobs import event_line, job_json, progress_text
from corral.files.store import FileStore
from corral.finetune import service
from corral.finetune.params import KIND
from corral.finetune.quote import Quotes, training_quotes
from corral.jobs import Job, JobQueue
from corral.metering.ledger import Ledger
from corral.settings import Settings
from corral.storage import Database

app = typer.Typer(help="Fine-tune a model on a tenant's data (LoRA).", no_args_is_help=True)
Auto = Annotated[str, typer.Option(help="A number, or auto.")]
Tenant = Annotated[str, typer.Option(help="The tenant's name or id.")]
JobId = Annotated[str, typer.Argument(help="The job's id (ftjob-...).")]
T = TypeVar("T")
Work = Callable[[Settings, Database, JobQueue, Quotes], Coroutine[Any, Any, T]]


def _run(config: Path | None, work: Work[T]) -> T:
    """`work` on the server's database, with a ledger for the quotes (closed in its loop)."""
    with database(config) as (settings, db):
        ledger = Ledger(db, settings.billing.reservation_timeout_s)

        async def run() -> T:
            try:
                return await work(settings, db, JobQueue(db), training_quotes(settings, ledger, db))
            finally:
                await ledger.aclose()

        return asyncio.run(run())


@app.command()
def create(
    tenant: Tenant,
    model: Annotated[str, typer.Option(help="The base model.")],
    training_file: Annotated[str, typer.Option(help="A fine-tune file of the tenant (file-...).")],
    validation_file: Annotated[str | None, typer.Option()] = None,
    suffix: Annotated[str | None, typer.Option(help="Part of the fine-tuned model's name.")] = None,
    seed: Annotated[int | None, typer.Option(min=0)] = None,
    epochs: Auto = "auto",
    batch_size: Auto = "auto",
    learning_rate_multiplier: Auto = "auto",
    pseudonymize_pii: Annotated[
        bool, typer.Option(help="Replace personal data by placeholders before training.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Queue a fine-tuning job (checked, and its quote reserved, as `POST /v1/fine_tuning/jobs`
    does); prints its id."""
    hyperparameters = {
        "n_epochs": _number(epochs),
        "batch_size": _number(batch_size),
        "learning_rate_multiplier": _number(learning_rate_multiplier),
    }
    request = service.Request(
        model,
        training_file,
        validation_file,
        suffix,
        seed,
        hyperparameters=hyperparameters,
        pseudonymize_pii=pseudonymize_pii,
    )

    async def submit(settings: Settings, db: Database, queue: JobQueue, quotes: Quotes) -> Job:
        owner = accounts(settings, db).get_tenant(tenant).id
        files = FileStore(db, settings.home, settings.files)
        return await service.submit(queue, files, settings, owner, request, quotes)

    job = _run(config, submit)
    typer.echo(job.id)


def _number(value: str) -> Any:
    if value == "auto":
        return value
    try:
        return float(value) if "." in value or "e" in value else int(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is neither a number nor auto") from None


@app.command("list")
def list_jobs(
    tenant: Tenant,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """The tenant's fine-tuning jobs, newest first."""

    async def jobs(settings: Settings, db: Database, queue: JobQueue, _: Quotes) -> list[Job]:
        owner = accounts(settings, db).get_tenant(tenant).id
        return await queue.list_jobs(owner, kind=KIND, limit=limit)

    found = _run(config, jobs)
    if as_json:
        print_json({"data": [job_json(job) for job in found]})
        return
    from rich.console import Console

    table = make_table("id", "model", "status", "progress", "trained tokens", "created")
    for job in found:
        table.add_row(
            job.id,
            job.params["model"],
            job.status,
            progress_text(job),
            show(_trained(job)),
            job.created_at.isoformat(timespec="seconds"),
        )
    Console().print(table)


@app.command("show")
def show_job(job_id: JobId, as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """One fine-tuning job: status, progress, quote, result or error."""
    job = _run(config, lambda _s, _d, queue, _q: service.get(queue, None, job_id))
    if as_json:
        print_json(job_json(job))
        return
    from rich.console import Console

    table = make_table("", "", title=job.id)
    for name, value in _facts(job):
        table.add_row(name, value)
    Console().print(table)


def _facts(job: Job) -> list[tuple[str, str]]:
    params, result, quote = job.params, job.result or {}, job.params.get("quote") or {}
    hyper = params["hyperparameters"]
    return [
        ("tenant", job.tenant_id),
        ("status", job.status),
        ("model", params["model"]),
        ("training file", params["training_file"]),
        ("validation file", show(params.get("validation_file"))),
        (
            "epochs, batch, lr x",
            f"{hyper['n_epochs']}, {hyper['batch_size']}, {hyper['learning_rate_multiplier']}",
        ),
        ("seed", str(params["seed"])),
        ("pseudonymised", "yes" if params.get("pseudonymize_pii") else "no"),
        ("quoted tokens", show(quote.get("tokens"))),
        ("progress", progress_text(job)),
        ("trained tokens", show(_trained(job))),
        ("fine-tuned model", show(result.get("fine_tuned_model"))),
        ("error", show((job.error or {}).get("message"))),
    ]


def _trained(job: Job) -> Any:
    return (job.result or {}).get("trained_tokens", job.progress.extra.get("trained_tokens"))


@app.command()
def events(job_id: JobId, config: ConfigOption = None) -> None:
    """A fine-tuning job's events, oldest first (a step's training loss among them)."""
    found = _run(config, lambda _s, _d, queue, _q: service.all_events(queue, None, job_id))
    for event in found:
        typer.echo(event_line(event))


@app.command()
def cancel(job_id: JobId, config: ConfigOption = None) -> None:
    """Cancel a fine-tuning job: at once if no worker holds it (its quote given back), else
    within its worker's next heartbeat (billed what it trained)."""
    job = _run(config, lambda _s, _d, queue, quotes: service.cancel(queue, None, job_id, quotes))
    typer.echo(f"{job.id}: {job.status}{' (cancel requested)' if not job.finished else ''}")


@app.command()
def watch(
    job_id: JobId,
    every: Annotated[float, typer.Option(help="Seconds between reads.", min=0.1)] = 2.0,
    config: ConfigOption = None,
) -> None:
    """Follow a job with a progress bar (steps, last training loss) until it ends."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[loss]}"))
    with database(config) as (_, db), Progress(*columns, TimeRemainingColumn()) as bar:
        queue = JobQueue(db)
        task = bar.add_task(job_id, total=None, loss="")
        while True:
            job = asyncio.run(queue.get(job_id))
            loss = job.progress.extra.get("train_loss")
            bar.update(
                task,
                completed=job.progress.done,
                total=job.progress.total,
                description=f"{job_id} {job.status}",
                loss="" if loss is None else f"loss {loss:.4f}",
            )
            if job.finished:
                break
            time.sleep(every)
    typer.echo(_ending(job))


def _ending(job: Job) -> str:
    if job.result and "fine_tuned_model" in job.result:
        return f"{job.status}: {job.result['fine_tuned_model']}"
    if job.error:
        return f"{job.status}: {job.error.get('message')}"
    return job.status
