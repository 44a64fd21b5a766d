"""HTTP routes of a tenant's access requests for gated models."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from corral.api.access.protocol import AccessRequestBody, AccessRequestList, AccessRequestOut
from corral.api.deps import ServicesDep, TenantContextDep, json_body
from corral.api.streaming import respond

router = APIRouter()


@router.post("/v1/models/{model_id:path}/access-requests", response_model=AccessRequestOut)
async def request_access(
    model_id: str,
    ctx: TenantContextDep,
    services: ServicesDep,
    body: Annotated[AccessRequestBody, Depends(json_body(AccessRequestBody))],
) -> Response:
    model = await services.gateway.visible_model(ctx.principal, model_id)
    tenant_id = ctx.principal.tenant_id
    assert tenant_id is not None
    view = await services.access.request_access(tenant_id, model.id, body.reason)
    return await respond(AccessRequestOut.of(view))


@router.get("/v1/access-requests", response_model=AccessRequestList)
async def list_access_requests(ctx: TenantContextDep, services: ServicesDep) -> Response:
    views = await services.access.list_requests(tenant_id=ctx.principal.tenant_id)
    return await respond(AccessRequestList(data=[AccessRequestOut.of(v) for v in views]))
