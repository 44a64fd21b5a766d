"""HTTP routes of the admin API (the operator's key only).

Each handler parses its input (see `protocol`) and hands the work to the accounts, access,
metering or price services (`corral.services`), which apply a change to this process at once
(other servers follow within a second).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from corral.accounts.admin import KeySpec
from corral.api.access.protocol import AccessRequestList, AccessRequestOut
from corral.api.admin.protocol import (
    CreatedKey,
    Decision,
    GrantCreate,
    GrantOut,
    KeyCreate,
    KeyList,
    KeyOut,
    PriceOut,
    PriceSet,
    TenantCreate,
    TenantList,
    TenantOut,
    TenantUpdate,
    request_status,
)
from corral.api.deps import AdminDep, ServicesDep, json_body
from corral.api.streaming import respond
from corral.api.usage.protocol import InvoiceOut, UsageReport, date_span

router = APIRouter(prefix="/admin")


async def _tenant_id(services: ServicesDep, ref: str | None) -> str | None:
    """The id of the tenant named (or id'd) `ref`; 404 if there is none."""
    if ref is None:
        return None
    return (await services.accounts.get_tenant(ref)).id


# A decision's body may be left out entirely.
_decision = json_body(Decision, may_be_empty=True)


# -- tenants ---------------------------------------------------------------------------------


@router.post("/tenants", response_model=TenantOut)
async def create_tenant(
    _: AdminDep,
    services: ServicesDep,
    body: Annotated[TenantCreate, Depends(json_body(TenantCreate))],
) -> Response:
    view = await services.accounts.create_tenant(
        body.name,
        budget_micros=body.budget,
        mau=body.mau,
        policy=body.policy,
        retention_hours=body.retention_hours,
    )
    return await respond(TenantOut.of(view))


@router.get("/tenants", response_model=TenantList)
async def list_tenants(_: AdminDep, services: ServicesDep) -> Response:
    views = await services.accounts.list_tenants()
    return await respond(TenantList(data=[TenantOut.of(v) for v in views]))


@router.get("/tenants/{ref}", response_model=TenantOut)
async def get_tenant(ref: str, _: AdminDep, services: ServicesDep) -> Response:
    return await respond(TenantOut.of(await services.accounts.get_tenant(ref)))


@router.patch("/tenants/{ref}", response_model=TenantOut)
async def update_tenant(
    ref: str,
    _: AdminDep,
    services: ServicesDep,
    body: Annotated[TenantUpdate, Depends(json_body(TenantUpdate))],
) -> Response:
    view = await body.apply(services.accounts, ref)
    return await respond(TenantOut.of(view))


@router.post("/tenants/{ref}/licence-grants", response_model=GrantOut)
async def grant_licence(
    ref: str,
    _: AdminDep,
    services: ServicesDep,
    body: Annotated[GrantCreate, Depends(json_body(GrantCreate))],
) -> Response:
    licence = services.gateway.entitlement.licences.get(body.licence_id)
    tenant = await services.accounts.get_tenant(ref)
    await services.access.grant_licence(tenant.id, licence, body.note)
    return await respond(GrantOut(tenant=tenant.name, licence_id=licence.id, note=body.note))


# -- keys ------------------------------------------------------------------------------------


@router.post("/keys", response_model=CreatedKey)
async def create_key(
    _: AdminDep,
    services: ServicesDep,
    body: Annotated[KeyCreate, Depends(json_body(KeyCreate))],
) -> Response:
    spec = KeySpec(
        name=body.name,
        rpm=body.rpm,
        tpm=body.tpm,
        models=body.models,
        tiers=list(body.tiers) if body.tiers is not None else None,
        expires_at=body.expires_at,
    )
    view, plaintext = await services.accounts.create_key(body.tenant, spec)
    return await respond(CreatedKey.created(view, plaintext))


@router.get("/keys", response_model=KeyList)
async def list_keys(_: AdminDep, services: ServicesDep, tenant: str | None = None) -> Response:
    views = await services.accounts.list_keys(tenant)
    return await respond(KeyList(data=[KeyOut.of(v) for v in views]))


@router.post("/keys/{key_id}/revoke", response_model=KeyOut)
async def revoke_key(key_id: str, _: AdminDep, services: ServicesDep) -> Response:
    view = await services.accounts.revoke_key(key_id)
    return await respond(KeyOut.of(view))


# -- gated access ----------------------------------------------------------------------------


@router.get("/access-requests", response_model=AccessRequestList)
async def list_access_requests(
    _: AdminDep, services: ServicesDep, status: str | None = None, tenant: str | None = None
) -> Response:
    wanted = request_status(status)
    tenant_id = await _tenant_id(services, tenant)
    views = await services.access.list_requests(tenant_id=tenant_id, status=wanted)
    return await respond(AccessRequestList(data=[AccessRequestOut.of(v) for v in views]))


@router.post("/access-requests/{request_id}/approve", response_model=AccessRequestOut)
async def approve(
    request_id: str,
    _: AdminDep,
    services: ServicesDep,
    body: Annotated[Decision, Depends(_decision)],
) -> Response:
    view = await services.access.decide(request_id, "approved", body.reason)
    return await respond(AccessRequestOut.of(view))


@router.post("/access-requests/{request_id}/deny", response_model=AccessRequestOut)
async def deny(
    request_id: str,
    _: AdminDep,
    services: ServicesDep,
    body: Annotated[Decision, Depends(_decision)],
) -> Response:
    view = await services.access.decide(request_id, "denied", body.reason)
    return await respond(AccessRequestOut.of(view))


# -- prices ----------------------------------------------------------------------------------


@router.put("/models/{model_id:path}/price", response_model=PriceOut)
async def set_price(
    model_id: str,
    _: AdminDep,
    services: ServicesDep,
    body: Annotated[PriceSet, Depends(json_body(PriceSet))],
) -> Response:
    model = services.gateway.catalog.get(model_id)
    price = await services.prices.set(model.id, body.input, body.output)
    return await respond(PriceOut.of(price, services.usage.currency))


@router.delete("/models/{model_id:path}/price", response_model=PriceOut)
async def clear_price(model_id: str, _: AdminDep, services: ServicesDep) -> Response:
    model = services.gateway.catalog.get(model_id)
    removed = await services.prices.clear(model.id)
    return await respond(PriceOut.cleared(model.id, services.usage.currency, removed))


# -- usage and invoices ----------------------------------------------------------------------


@router.get("/usage", response_model=UsageReport)
async def usage(
    _: AdminDep,
    services: ServicesDep,
    tenant: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    model: str | None = None,
    api_key_id: str | None = None,
) -> Response:
    span = date_span(start_date, end_date)
    tenant_id = await _tenant_id(services, tenant)
    rows = await services.usage.daily_rows(
        span, tenant_id=tenant_id, model=model, key_id=api_key_id
    )
    return await respond(UsageReport.of(rows, services.usage.currency, span, with_tenant=True))


@router.get("/invoices/{tenant}/{month}", response_model=InvoiceOut)
async def invoice(tenant: str, month: str, _: AdminDep, services: ServicesDep) -> Response:
    view = await services.accounts.get_tenant(tenant)
    bill = await services.usage.monthly_invoice(view.id, view.name, month)
    return await respond(InvoiceOut.of(bill))
