"""The leaderboard page of a tenant: the datasets its finished eval runs scored, and a chosen
dataset's models ranked with their 95 % intervals, ties and standing, each row linking to its
run's signed manifest. The same domain function as `GET /v1/evals/leaderboard`
(`corral.evals.board`), on the signed-in tenant's runs only."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from corral.api.console.render import SECURITY_HEADERS, PageRoute, page
from corral.api.console.web import VisitorDep
from corral.api.deps import ServicesDep
from corral.errors import NotFound
from corral.evals.board import board, scored_datasets
from corral.evals.runner import KIND

router = APIRouter(route_class=PageRoute)


@router.get("/evals/leaderboard")
async def leaderboard_page(
    request: Request,
    visitor: VisitorDep,
    services: ServicesDep,
    dataset: Annotated[str | None, Query(max_length=128)] = None,
    criterion: Annotated[str | None, Query(max_length=256)] = None,
) -> Response:
    tenant_id = visitor.tenant_id
    found = None
    if dataset:
        found = await board(
            services.jobs,
            services.files,
            services.gateway.catalog,
            tenant_id,
            dataset.strip(),
            criterion or None,
        )
    datasets = await scored_datasets(services.jobs, tenant_id)
    return page(
        request, "leaderboard.html", board=found, datasets=datasets, criterion=criterion or ""
    )


@router.get("/evals/{eval_id}/runs/{run_id}/manifest")
async def manifest_download(
    eval_id: str, run_id: str, visitor: VisitorDep, services: ServicesDep
) -> Response:
    """The run's signed manifest, as `corral eval verify` reads it."""
    tenant_id = visitor.tenant_id
    try:
        job = await services.jobs.get(run_id, tenant_id)
    except NotFound:
        job = None
    if job is None or job.kind != KIND or job.params.get("eval_id") != eval_id:
        raise NotFound(f"Run with id '{run_id}' not found.", param="run_id")
    signed = (job.result or {}).get("manifest") if job.status == "succeeded" else None
    if not signed:
        raise NotFound(f"Run '{run_id}' has no signed manifest: it has not completed.")
    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": f'attachment; filename="{run_id}.manifest.json"',
    }
    body = orjson.dumps(signed, option=orjson.OPT_INDENT_2)
    return Response(body, media_type="application/json", headers=headers)
