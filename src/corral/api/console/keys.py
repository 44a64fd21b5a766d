"""The keys page: a tenant's keys, a new key shown once, revoking one (and its sessions)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from corral.api.console.key_form import describe, key_spec
from corral.api.console.render import PageRoute, page, redirect
from corral.api.console.web import FormDep, StoresDep, Visitor, VisitorDep
from corral.api.deps import ServicesDep
from corral.services import Services

router = APIRouter(route_class=PageRoute)


async def _keys_page(
    request: Request,
    visitor: Visitor,
    services: Services,
    new_key: str | None = None,
    status_code: int = 200,
) -> Response:
    keys = await services.accounts.list_keys(visitor.tenant_id)
    return page(
        request,
        "keys.html",
        status_code,
        keys=reversed(keys),
        new_key=new_key,
        own=visitor,
        scope_text=describe(visitor.principal.key),
    )


@router.get("/keys")
async def keys_page(request: Request, visitor: VisitorDep, services: ServicesDep) -> Response:
    return await _keys_page(request, visitor, services)


@router.post("/keys")
async def create_key(
    request: Request, visitor: VisitorDep, form: FormDep, services: ServicesDep
) -> Response:
    """A key no broader than the one signed in (`key_form`): what the form leaves empty
    carries over from it, so the console never lets a narrow key mint a wide one."""
    spec = key_spec(form, visitor.principal.key)
    _, plaintext = await services.accounts.create_key(visitor.tenant_id, spec)
    # The page itself carries the key, this once: never a redirect with it in the URL.
    return await _keys_page(request, visitor, services, new_key=plaintext, status_code=201)


@router.post("/keys/{key_id}/revoke")
async def revoke_key(
    key_id: str, visitor: VisitorDep, _: FormDep, services: ServicesDep, stores: StoresDep
) -> Response:
    await services.accounts.revoke_key(key_id, tenant_id=visitor.tenant_id)
    await stores.sessions.end_for_key(key_id)
    return redirect("/sign-in" if key_id == visitor.principal.key_id else "/keys")
