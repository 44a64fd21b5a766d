"""HTTP routes of the Evals API (OpenAI's shapes): evals, their runs (jobs of kind
`eval_run`), the graded items, and the operator's signing key. The work is `corral.evals`'."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from corral.api.deps import ContextDep, ServicesDep, json_body
from corral.api.evals.protocol import (
    DatasetObject,
    DatasetUpdate,
    EvalCreate,
    EvalList,
    EvalObject,
    Leaderboard,
    LeaderboardRow,
    OutputItemList,
    OutputItemObject,
    RunCreate,
    RunList,
    RunObject,
    SigningKeyObject,
    SuiteList,
    SuiteObject,
)
from corral.errors import NotFound
from corral.evals import service, suites
from corral.evals.board import board
from corral.evals.datasets import Datasets
from corral.evals.manifest import SigningKey
from corral.evals.runner import KIND
from corral.jobs import Job
from corral.pipeline.gateway import RequestContext
from corral.services import Services

router = APIRouter(prefix="/v1/evals")
_RUNS_SCANNED = 1000
"""Runs are listed from the owner's newest eval runs (jobs), up to this many."""

Limit = Annotated[int, Query(ge=1, le=100)]


def _owner(ctx: RequestContext) -> str:
    return service.owner_of(ctx.principal)


@router.get("/signing-key", response_model=SigningKeyObject)
async def signing_key(ctx: ContextDep, services: ServicesDep) -> SigningKeyObject:
    """The public key manifests are signed with: check them offline with `corral eval verify`."""
    key = await asyncio.to_thread(SigningKey.load_or_create, services.settings.home)
    return SigningKeyObject(**{k: v for k, v in key.public_json().items() if k != "object"})


@router.get("/datasets/{file_id}", response_model=DatasetObject)
async def retrieve_dataset(file_id: str, ctx: ContextDep, services: ServicesDep) -> DatasetObject:
    """Whether an eval dataset (a file uploaded for `evals`) is private (`evals.datasets`)."""
    return DatasetObject.of(await _datasets(services).get(_owner(ctx), file_id))


@router.post("/datasets/{file_id}", response_model=DatasetObject)
async def mark_dataset(
    file_id: str,
    body: Annotated[DatasetUpdate, Depends(json_body(DatasetUpdate))],
    ctx: ContextDep,
    services: ServicesDep,
) -> DatasetObject:
    """Mark a dataset private (or not): a private one is not sent to a partner model unless a
    run says `allow_private_dataset: true`."""
    dataset = await _datasets(services).mark(_owner(ctx), file_id, body.private)
    return DatasetObject.of(dataset)


def _datasets(services: Services) -> Datasets:
    return Datasets(services.db, services.files)


@router.get("/leaderboard", response_model=Leaderboard)
async def leaderboard(
    ctx: ContextDep,
    services: ServicesDep,
    dataset: Annotated[str, Query(min_length=1, max_length=128)],
    criterion: Annotated[str | None, Query(max_length=256)] = None,
) -> Leaderboard:
    """The caller's finished runs on one dataset (its SHA-256, or the id of its file), one row
    per model, ranked with 95 % intervals (`corral.evals.leaderboard`)."""
    found = await board(
        services.jobs, services.files, services.gateway.catalog, _owner(ctx), dataset, criterion
    )
    return Leaderboard(
        dataset=found.dataset,
        criterion=criterion,
        data=[LeaderboardRow.of(r) for r in found.rows],
        exposure=found.exposure,
    )


@router.get("/suites", response_model=SuiteList)
async def list_suites(ctx: ContextDep) -> SuiteList:
    """The built-in suites: name, size, SHA-256, and the criteria and messages to run them with."""
    data = await asyncio.to_thread(lambda: [s.describe() for s in suites.SUITES.values()])
    return SuiteList(data=[SuiteObject(**d) for d in data])


@router.post("", response_model=EvalObject)
async def create_eval(
    body: Annotated[EvalCreate, Depends(json_body(EvalCreate))],
    ctx: ContextDep,
    services: ServicesDep,
) -> EvalObject:
    record = await service.create_eval(
        services.evals,
        ctx.principal,
        body.name,
        body.data_source_config,
        body.testing_criteria,
        body.metadata,
    )
    return EvalObject.of(record)


@router.get("", response_model=EvalList)
async def list_evals(ctx: ContextDep, services: ServicesDep, limit: Limit = 20) -> EvalList:
    records = await services.evals.list_evals(_owner(ctx), limit + 1)
    data = [EvalObject.of(r) for r in records[:limit]]
    return EvalList(
        data=data,
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
        has_more=len(records) > limit,
    )


@router.get("/{eval_id}", response_model=EvalObject)
async def retrieve_eval(eval_id: str, ctx: ContextDep, services: ServicesDep) -> EvalObject:
    return EvalObject.of(await services.evals.get(_owner(ctx), eval_id))


@router.post("/{eval_id}/runs", response_model=RunObject)
async def create_run(
    eval_id: str,
    body: Annotated[RunCreate, Depends(json_body(RunCreate))],
    ctx: ContextDep,
    services: ServicesDep,
) -> RunObject:
    evaluation = await services.evals.get(_owner(ctx), eval_id)
    job = await service.start_run(
        services,
        ctx,
        evaluation,
        body.name,
        body.data_source,
        body.metadata,
        body.allow_private_dataset,
    )
    return RunObject.of(job, _now())


@router.get("/{eval_id}/runs", response_model=RunList)
async def list_runs(
    eval_id: str, ctx: ContextDep, services: ServicesDep, limit: Limit = 20
) -> RunList:
    await services.evals.get(_owner(ctx), eval_id)
    jobs = await services.jobs.list_jobs(_owner(ctx), kind=KIND, limit=_RUNS_SCANNED)
    mine = [job for job in jobs if job.params.get("eval_id") == eval_id]
    now = _now()
    data = [RunObject.of(job, now) for job in mine[:limit]]
    return RunList(
        data=data,
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
        has_more=len(mine) > limit,
    )


@router.get("/{eval_id}/runs/{run_id}", response_model=RunObject)
async def retrieve_run(
    eval_id: str, run_id: str, ctx: ContextDep, services: ServicesDep
) -> RunObject:
    return RunObject.of(await _run(services, ctx, eval_id, run_id), _now())


@router.post("/{eval_id}/runs/{run_id}", response_model=RunObject)
async def cancel_run(
    eval_id: str, run_id: str, ctx: ContextDep, services: ServicesDep
) -> RunObject:
    """Cancel: a queued run ends at once, a running one within its worker's heartbeat."""
    await _run(services, ctx, eval_id, run_id)
    job = await services.jobs.request_cancel(run_id, _owner(ctx))
    return RunObject.of(job, _now())


@router.get("/{eval_id}/runs/{run_id}/output_items", response_model=OutputItemList)
async def list_output_items(
    eval_id: str,
    run_id: str,
    ctx: ContextDep,
    services: ServicesDep,
    limit: Limit = 20,
    after: str | None = None,
    status: Annotated[str | None, Query(pattern="^(pass|fail|error)$")] = None,
) -> OutputItemList:
    job = await _run(services, ctx, eval_id, run_id)
    items = await services.evals.all_items(run_id)
    if status is not None:
        items = [i for i in items if i.status == status]
    if after is not None:
        ids = [i.id for i in items]
        if after not in ids:
            raise NotFound(f"Output item with id '{after}' not found.", param="after")
        items = items[ids.index(after) + 1 :]
    model = job.params["data_source"]["model"]
    data = [OutputItemObject.of(i, eval_id, model) for i in items[:limit]]
    return OutputItemList(
        data=data,
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
        has_more=len(items) > limit,
    )


async def _run(services: Services, ctx: RequestContext, eval_id: str, run_id: str) -> Job:
    try:
        job = await services.jobs.get(run_id, _owner(ctx))
    except NotFound:
        job = None
    if job is None or job.kind != KIND or job.params.get("eval_id") != eval_id:
        raise NotFound(f"Run with id '{run_id}' not found.", param="run_id")
    return job


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
