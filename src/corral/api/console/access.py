"""The licences page of a tenant: the licences of the models its key may see, accepting one,
asking for access to a gated model and seeing the operator's decision. The rules are the
API's (`/v1/licences`, `/v1/models/{id}/access-requests`): the same services, unchanged."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from corral.api.console.render import PageRoute, page, redirect
from corral.api.console.web import FormDep, Visitor, VisitorDep
from corral.api.deps import ServicesDep
from corral.errors import InvalidRequest
from corral.services import Services

router = APIRouter(route_class=PageRoute)
_MAX_REASON = 4000


@router.get("/licences")
async def licences_page(request: Request, visitor: VisitorDep, services: ServicesDep) -> Response:
    return page(request, "licences.html", **await _view(services, visitor))


async def _view(services: Services, visitor: Visitor) -> dict[str, Any]:
    tenant_id = visitor.tenant_id
    book = services.gateway.entitlement.licences
    accepted = await services.access.accepted_versions(tenant_id)
    requests = await services.access.list_requests(tenant_id=tenant_id)
    latest = {r.model: r for r in requests}  # oldest first: the last one of a model stays
    gated = []
    for entry in await services.gateway.visible_models(visitor.principal):
        licence = book.find(entry.licence)
        if licence is not None and licence.gated:
            gated.append({"id": entry.id, "licence": licence, "request": latest.get(entry.id)})
    return {
        "licences": book.all(),
        "accepted": accepted,
        "gated": gated,
        "requests": list(reversed(requests)),
    }


@router.post("/licences/{licence_id}/accept")
async def accept_licence(
    licence_id: str, visitor: VisitorDep, form: FormDep, services: ServicesDep
) -> Response:
    licence = services.gateway.entitlement.licences.get(licence_id)
    await services.access.accept_licence(visitor.tenant_id, licence, visitor.principal.key_id)
    # The models page has the same button; the visitor goes back to where it was pressed.
    return redirect("/models" if form.get("back") == "models" else "/licences")


@router.post("/access-requests")
async def request_access(visitor: VisitorDep, form: FormDep, services: ServicesDep) -> Response:
    reason = form.get("reason", "").strip()
    if len(reason) > _MAX_REASON:
        raise InvalidRequest(f"A reason may have at most {_MAX_REASON} characters.", param="reason")
    model = await services.gateway.visible_model(visitor.principal, form.get("model", ""))
    await services.access.request_access(visitor.tenant_id, model.id, reason)
    return redirect("/licences")
