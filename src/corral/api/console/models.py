"""The models page: the catalogue as the signed-in key sees it (`gateway.visible_models`, as
`GET /v1/models`), each model's tier, licence, context length and price now, and where a
licence must be accepted its text and the accept button of the licences page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from corral.api.console.render import PageRoute, page
from corral.api.console.web import VisitorDep
from corral.api.deps import ServicesDep
from corral.money import format_micros

router = APIRouter(route_class=PageRoute)


@router.get("/models")
async def models_page(request: Request, visitor: VisitorDep, services: ServicesDep) -> Response:
    gateway = services.gateway
    book = gateway.entitlement.licences
    accepted = await services.access.accepted_versions(visitor.tenant_id)
    rows: list[dict[str, Any]] = []
    needed = {}
    for entry in await gateway.visible_models(visitor.principal):
        licence = book.find(entry.licence)
        prices = await gateway.prices(entry)
        missing = (
            licence is not None
            and licence.requires_acceptance
            and accepted.get(licence.id) != licence.version
        )
        if missing and licence is not None:
            needed[licence.id] = licence
        rows.append(
            {
                "entry": entry,
                "licence": licence,
                "prices": tuple(format_micros(p) for p in prices),
                "accepted": not missing,
            }
        )
    return page(
        request,
        "models.html",
        rows=rows,
        needed=list(needed.values()),
        currency=services.usage.currency,
    )
