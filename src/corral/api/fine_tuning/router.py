"""HTTP routes of OpenAI's Fine-tuning jobs API: create, list, retrieve, cancel, events,
checkpoints. The work is `corral.finetune.service`'s; a `corral worker` runs the jobs."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from corral.api.deps import ContextDep, ServicesDep
from corral.api.files.router import owner
from corral.api.fine_tuning.protocol import (
    CheckpointList,
    CheckpointMetrics,
    CreateJob,
    EventList,
    FineTuningJob,
    JobCheckpoint,
    JobEvent,
    JobList,
    checkpoint_id,
    seq_of,
)
from corral.finetune import service
from corral.finetune.params import KIND

router = APIRouter(prefix="/v1/fine_tuning/jobs")
Limit = Annotated[int, Query(ge=1, le=1000)]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@router.post("", response_model=FineTuningJob)
async def create_job(body: CreateJob, ctx: ContextDep, services: ServicesDep) -> FineTuningJob:
    request = service.Request(**body.model_dump())
    # The base's licence, gating and the key's scopes apply to training on it as to using it.
    await services.gateway.resolve(ctx, request.model)
    queue = services.jobs
    job = await service.submit(
        queue, services.files, services.settings, owner(ctx), request, services.training_quotes
    )
    return FineTuningJob.of(job, _now())


@router.get("", response_model=JobList)
async def list_jobs(
    ctx: ContextDep, services: ServicesDep, after: str | None = None, limit: Limit = 20
) -> JobList:
    jobs = await services.jobs.list_jobs(owner(ctx), kind=KIND, after=after, limit=limit + 1)
    now = _now()
    return JobList(
        data=[FineTuningJob.of(j, now) for j in jobs[:limit]], has_more=len(jobs) > limit
    )


@router.get("/{job_id}", response_model=FineTuningJob)
async def retrieve_job(job_id: str, ctx: ContextDep, services: ServicesDep) -> FineTuningJob:
    job = await service.get(services.jobs, owner(ctx), job_id)
    return FineTuningJob.of(job, _now())


@router.post("/{job_id}/cancel", response_model=FineTuningJob)
async def cancel_job(job_id: str, ctx: ContextDep, services: ServicesDep) -> FineTuningJob:
    job = await service.cancel(services.jobs, owner(ctx), job_id, services.training_quotes)
    return FineTuningJob.of(job, _now())


@router.get("/{job_id}/events", response_model=EventList)
async def list_events(
    job_id: str, ctx: ContextDep, services: ServicesDep, after: str | None = None, limit: Limit = 20
) -> EventList:
    events = await service.all_events(services.jobs, owner(ctx), job_id)
    before = None if after is None else seq_of(after)
    page, more = service.newest_first(events, before, limit, key=lambda event: event.seq)
    return EventList(data=[JobEvent.of(job_id, event) for event in page], has_more=more)


@router.get("/{job_id}/checkpoints", response_model=CheckpointList)
async def list_checkpoints(
    job_id: str, ctx: ContextDep, services: ServicesDep, after: str | None = None, limit: Limit = 10
) -> CheckpointList:
    job = await service.get(services.jobs, owner(ctx), job_id)
    before = None if after is None else seq_of(after)
    saved = service.checkpoints(job)
    page, more = service.newest_first(saved, before, limit, key=lambda saved: saved["step"])
    model = (job.result or {}).get("fine_tuned_model") or f"ft:{job.params['model']}:{job.id}"
    data = [
        JobCheckpoint(
            id=checkpoint_id(job.id, c["step"]),
            created_at=c.get("created_at", 0),
            fine_tuned_model_checkpoint=f"{model}:ckpt-step-{c['step']}",
            fine_tuning_job_id=job.id,
            step_number=c["step"],
            metrics=CheckpointMetrics(
                step=c["step"], train_loss=c["train_loss"], valid_loss=c.get("valid_loss")
            ),
        )
        for c in page
    ]
    return CheckpointList(
        data=data,
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
        has_more=more,
    )
