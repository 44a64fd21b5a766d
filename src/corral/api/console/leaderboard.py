"""The leaderboard page of a tenant: the datasets its finished eval runs scored, and a chosen
dataset's models ranked with their 95 % intervals, ties and standing, each row linking to its
run's attestation page and signed manifest (`run_page`). The same domain function as
`GET /v1/evals/leaderboard` (`corral.evals.board`), on the signed-in tenant's runs only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from corral.api.console.render import PageRoute, page
from corral.api.console.web import VisitorDep
from corral.api.deps import ServicesDep
from corral.evals.board import board, scored_datasets

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
