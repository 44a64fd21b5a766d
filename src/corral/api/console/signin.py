"""Signing in (an API key or the admin key exchanged for a session) and out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from corral.api.console.render import PREFIX, PageRoute, page, redirect
from corral.api.console.web import (
    COOKIE,
    FormDep,
    StoresDep,
    VisitorDep,
    read_form,
    same_origin,
    session_key_id,
)
from corral.api.deps import ServicesDep
from corral.errors import AuthenticationFailed, NotFound

router = APIRouter(route_class=PageRoute)


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    return page(request, "signin.html")


@router.post("/sign-in")
async def sign_in(request: Request, services: ServicesDep, stores: StoresDep) -> Response:
    same_origin(request)
    key = (await read_form(request)).get("key", "").strip()
    try:
        principal = await services.authenticator.authenticate(f"Bearer {key}")
    except AuthenticationFailed as exc:
        return page(request, "signin.html", 401, error=exc.message)
    key_id = session_key_id(services, principal)
    token, _ = await stores.sessions.open(principal.kind, key_id, principal.tenant_id)
    response = redirect("/usage" if principal.is_admin else "/chat")
    response.set_cookie(
        COOKIE,
        token,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/sign-out")
async def sign_out(visitor: VisitorDep, _: FormDep, stores: StoresDep) -> Response:
    await stores.sessions.end(visitor.session.id)
    response = redirect("/sign-in")
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


@router.get("/")
async def home(visitor: VisitorDep) -> Response:
    return redirect("/usage" if visitor.is_admin else "/chat")


@router.get("/{unknown:path}")
async def not_found(unknown: str) -> Response:
    """Any other address under /console: a page saying so, not the API's JSON."""
    raise NotFound(f"There is no console page at /console/{unknown}.")
