"""`corral finetune create | watch`: queue a fine-tuning job for a tenant and follow it.

Like `corral files`, these work on the server's database and home directly (no server needed);
a `corral worker` runs the job. `corral jobs list | show | events | cancel` read and cancel
fine-tuning jobs like any other job.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

import typer

from corral.cli.common import ConfigOption, accounts, database
from corral.files.store import FileStore
from corral.finetune import service
from corral.jobs import Job, JobQueue

app = typer.Typer(help="Fine-tune a model on a tenant's data (LoRA).", no_args_is_help=True)
Auto = Annotated[str, typer.Option(help="A number, or auto.")]


@app.command()
def create(
    tenant: Annotated[str, typer.Option(help="The tenant's name or id.")],
    model: Annotated[str, typer.Option(help="The base model.")],
    training_file: Annotated[str, typer.Option(help="A fine-tune file of the tenant (file-...).")],
    validation_file: Annotated[str | None, typer.Option()] = None,
    suffix: Annotated[str | None, typer.Option(help="Part of the fine-tuned model's name.")] = None,
    seed: Annotated[int | None, typer.Option(min=0)] = None,
    epochs: Auto = "auto",
    batch_size: Auto = "auto",
    learning_rate_multiplier: Auto = "auto",
    config: ConfigOption = None,
) -> None:
    """Queue a fine-tuning job (checked as `POST /v1/fine_tuning/jobs` checks it); prints its id."""
    hyperparameters = {
        "n_epochs": _number(epochs),
        "batch_size": _number(batch_size),
        "learning_rate_multiplier": _number(learning_rate_multiplier),
    }
    request = service.Request(
        model, training_file, validation_file, suffix, seed, hyperparameters=hyperparameters
    )
    with database(config) as (settings, db):
        owner = accounts(settings, db).get_tenant(tenant).id
        files = FileStore(db, settings.home, settings.files)
        job = asyncio.run(service.submit(JobQueue(db), files, settings, owner, request))
    typer.echo(job.id)


def _number(value: str) -> Any:
    if value == "auto":
        return value
    try:
        return float(value) if "." in value or "e" in value else int(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is neither a number nor auto") from None


@app.command()
def watch(
    job_id: Annotated[str, typer.Argument(help="The job's id (ftjob-...).")],
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
