"""The owner's side of fine-tuning jobs: submit one (its files and model checked first), page
through jobs, events (newest first, as OpenAI's API pages them) and checkpoints."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from corral.errors import InvalidRequest, NotFound
from corral.files.store import FileStore
from corral.finetune.params import (
    JOB_PREFIX,
    KIND,
    VALIDATING,
    resolve_hyperparameters,
    trainable_bases,
)
from corral.finetune.quote import Quotes
from corral.jobs import Event, Job, JobQueue
from corral.jobs.store import new_id
from corral.settings import Settings

EVENT_PAGE = 500


@dataclass(frozen=True, slots=True)
class Request:
    model: str
    training_file: str
    validation_file: str | None = None
    suffix: str | None = None
    seed: int | None = None
    hyperparameters: dict[str, Any] | None = None
    method: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    pseudonymize_pii: bool = False
    """corral's own: train on the file with its personal data replaced by placeholders."""


async def submit(
    queue: JobQueue,
    files: FileStore,
    settings: Settings,
    owner: str,
    request: Request,
    quotes: Quotes | None = None,
) -> Job:
    """Check the request, reserve its quote (`quotes`: none for free training) and queue it.
    Nothing is queued, nor reserved, for a request refused."""
    if request.model not in trainable_bases(settings):
        raise InvalidRequest(
            f"The model '{request.model}' cannot be fine-tuned here.",
            param="model",
            code="model_not_available",
        )
    await _training_file(files, owner, request.training_file, "training_file")
    if request.validation_file:
        await _training_file(files, owner, request.validation_file, "validation_file")
    hyperparameters = resolve_hyperparameters(request.hyperparameters, request.method)
    job_id = new_id(JOB_PREFIX)
    quote = None
    if quotes is not None:
        training = await files.content(owner, request.training_file)
        quote = await quotes.hold(
            job_id,
            owner,
            request.model,
            training,
            hyperparameters["n_epochs"],
            request.pseudonymize_pii,
        )
    params = {
        "model": request.model,
        "training_file": request.training_file,
        "validation_file": request.validation_file,
        "suffix": request.suffix,
        "seed": secrets.randbelow(2**31) if request.seed is None else request.seed,
        "hyperparameters": hyperparameters,
        "metadata": request.metadata,
        "pseudonymize_pii": request.pseudonymize_pii,
        "quote": quote,
    }
    try:
        return await queue.submit(KIND, owner, params, status=VALIDATING, job_id=job_id)
    except BaseException:
        if quotes is not None:
            await quotes.release(job_id, owner, quote)
        raise


async def cancel(queue: JobQueue, owner: str | None, job_id: str, quotes: Quotes) -> Job:
    """Cancel the owner's job (None: the operator, anyone's). One no worker held is cancelled
    at once and its reservation given back here (ending one already ended changes nothing); a
    running one's worker bills what it trained, and gives back the rest."""
    job = await get(queue, owner, job_id)
    cancelled = await queue.request_cancel(job_id, owner)
    if cancelled.finished and not job.finished:
        await quotes.release(job.id, job.tenant_id, job.params.get("quote"))
    return cancelled


async def _training_file(files: FileStore, owner: str, file_id: str, param: str) -> None:
    try:
        record = await files.get(owner, file_id)
    except NotFound:
        raise InvalidRequest(f"No such file: {file_id}.", param=param) from None
    if record.purpose != "fine-tune":
        raise InvalidRequest(
            f"The file {file_id} was uploaded with purpose '{record.purpose}', not 'fine-tune'.",
            param=param,
        )


async def get(queue: JobQueue, owner: str | None, job_id: str) -> Job:
    try:
        job = await queue.get(job_id, owner)
    except NotFound:
        job = None
    if job is None or job.kind != KIND:  # another kind's job is none of these routes' business
        raise NotFound(f"No such fine-tuning job: {job_id}.", param="job_id")
    return job


async def all_events(queue: JobQueue, owner: str | None, job_id: str) -> list[Event]:
    """The job's events, oldest first."""
    await get(queue, owner, job_id)
    events: list[Event] = []
    while True:
        page = await queue.events(
            job_id, owner, after=events[-1].seq if events else 0, limit=EVENT_PAGE
        )
        events.extend(page)
        if len(page) < EVENT_PAGE:
            return events


def newest_first(
    items: list[Any], before: int | None, limit: int, key: Any
) -> tuple[list[Any], bool]:
    """A page of `items` (oldest first) newest first, from the one older than `before`."""
    ordered = [item for item in reversed(items) if before is None or key(item) < before]
    return ordered[:limit], len(ordered) > limit


def checkpoints(job: Job) -> list[dict[str, Any]]:
    """The job's saved checkpoints (step, train loss, time), oldest first."""
    return list((job.checkpoint or {}).get("checkpoints", []))
