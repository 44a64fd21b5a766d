"""An evaluation run's attestation page: its signed manifest (model digest, dataset SHA-256,
graders, scores with their 95 % intervals), whether the signature holds under this server's
signing key (`evals.manifest.verify`, as `corral eval verify --key` checks it), whether the
model served under that name now still has the digest the run recorded (`current`/`stale`,
as the leaderboard says it), and the manifest as a JSON download. The signed-in tenant's
runs only; another tenant's run id answers 404, as over the API."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from corral.api.console.render import SECURITY_HEADERS, PageRoute, page
from corral.api.console.web import Visitor, VisitorDep
from corral.api.deps import ServicesDep
from corral.api.evals.protocol import RunObject
from corral.errors import NotFound
from corral.evals.leaderboard import standing
from corral.evals.manifest import SigningKey, verify
from corral.evals.runner import KIND
from corral.jobs import Job
from corral.services import Services

router = APIRouter(route_class=PageRoute)


async def _run(services: Services, visitor: Visitor, run_id: str) -> Job:
    try:
        job = await services.jobs.get(run_id, visitor.tenant_id)
    except NotFound:
        job = None
    if job is None or job.kind != KIND:
        raise NotFound(f"Run with id '{run_id}' not found.", param="run_id")
    return job


def _signed(job: Job) -> dict[str, Any] | None:
    signed = (job.result or {}).get("manifest") if job.status == "succeeded" else None
    return signed if isinstance(signed, dict) else None


def _served_digest(services: Services, model_id: str) -> str | None:
    try:
        return services.gateway.catalog.get(model_id).digest
    except NotFound:
        return None


async def _check(services: Services, signed: dict[str, Any]) -> tuple[str | None, str]:
    """Why the signature does not hold (None when it does), and this server's key id."""
    key = await asyncio.to_thread(SigningKey.load_or_create, services.settings.home)
    public = key.public_json()
    problem = await asyncio.to_thread(verify, signed, public["public_key"])
    return problem, public["key_id"]


@router.get("/evals/runs/{run_id}")
async def run_page(
    run_id: str, request: Request, visitor: VisitorDep, services: ServicesDep
) -> Response:
    job = await _run(services, visitor, run_id)
    run = RunObject.of(job, dt.datetime.now(dt.UTC))
    signed = _signed(job)
    context: dict[str, Any] = {"run": run, "manifest": None}
    if signed is not None:
        body = signed.get("manifest") or {}
        model = body.get("model") or {}
        problem, key_id = await _check(services, signed)
        served = _served_digest(services, str(model.get("id", run.model)))
        context.update(
            manifest=body,
            signature=signed.get("signature") or {},
            problem=problem,
            key_id=key_id,
            model=model,
            served_digest=served,
            standing=standing(model.get("digest"), served),
            criteria=(body.get("run") or {}).get("testing_criteria") or [],
            scores=body.get("scores") or {},
        )
    return page(request, "eval_run.html", **context)


@router.get("/evals/runs/{run_id}/manifest.json")
async def manifest_download(
    run_id: str, request: Request, visitor: VisitorDep, services: ServicesDep
) -> Response:
    job = await _run(services, visitor, run_id)
    signed = _signed(job)
    if signed is None:
        raise NotFound(f"Run '{run_id}' has no signed manifest: it has not succeeded.")
    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": f'attachment; filename="{run_id}.manifest.json"',
    }
    body = orjson.dumps(signed, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    return Response(body, media_type="application/json", headers=headers)
