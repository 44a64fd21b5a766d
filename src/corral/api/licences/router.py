"""HTTP routes of licences: list, read, accept (by a tenant's key)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from corral.api.deps import ContextDep, ServicesDep, TenantContextDep
from corral.api.licences.protocol import Acceptance, LicenceCard, LicenceList
from corral.api.streaming import respond

router = APIRouter()


async def _accepted(services: ServicesDep, tenant_id: str | None) -> dict[str, str]:
    if tenant_id is None:
        return {}
    return await services.access.accepted_versions(tenant_id)


@router.get("/v1/licences", response_model=LicenceList)
async def list_licences(ctx: ContextDep, services: ServicesDep) -> Response:
    accepted = await _accepted(services, ctx.principal.tenant_id)
    licences = services.gateway.entitlement.licences.all()
    return await respond(
        LicenceList(data=[LicenceCard.of(x, accepted.get(x.id)) for x in licences])
    )


@router.get("/v1/licences/{licence_id}", response_model=LicenceCard)
async def get_licence(licence_id: str, ctx: ContextDep, services: ServicesDep) -> Response:
    licence = services.gateway.entitlement.licences.get(licence_id)
    accepted = await _accepted(services, ctx.principal.tenant_id)
    return await respond(LicenceCard.of(licence, accepted.get(licence.id), with_text=True))


@router.post("/v1/licences/{licence_id}/accept", response_model=Acceptance)
async def accept_licence(licence_id: str, ctx: TenantContextDep, services: ServicesDep) -> Response:
    licence = services.gateway.entitlement.licences.get(licence_id)
    tenant_id = ctx.principal.tenant_id
    assert tenant_id is not None
    view = await services.access.accept_licence(tenant_id, licence, ctx.principal.key_id)
    return await respond(
        Acceptance(
            licence_id=view.licence_id,
            licence_version=view.licence_version,
            text_sha256=view.text_sha256,
            key_id=view.key_id,
            accepted_at=view.accepted_at,
        )
    )
