"""Who is signed in to the console, and whether a state-changing request really comes from
one of its own pages (the CSRF token and the Origin header)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, Request

from corral.api.console.conversations import Conversations
from corral.api.console.render import SignInRequired
from corral.api.console.sessions import SessionInfo, SessionStore
from corral.api.deps import ServicesDep
from corral.errors import AuthenticationFailed, InvalidRequest, PermissionDenied
from corral.pipeline.auth import ADMIN, Principal
from corral.pipeline.gateway import RequestContext
from corral.services import Services

COOKIE = "corral_console"
CSRF_HEADER = "x-csrf-token"
_MAX_FORM_BYTES = 64 * 1024


@dataclass(slots=True)
class ConsoleStores:
    """What the console keeps besides the API's own services (built once with the app)."""

    sessions: SessionStore
    conversations: Conversations


def install_stores(services: Services) -> ConsoleStores:
    return ConsoleStores(
        SessionStore(services.db, services.settings.console), Conversations(services.db)
    )


async def get_stores(request: Request) -> ConsoleStores:
    stores: ConsoleStores = request.app.state.console
    return stores


StoresDep = Annotated[ConsoleStores, Depends(get_stores)]


@dataclass(frozen=True, slots=True)
class Visitor:
    """A signed-in browser: its session and the principal its key stands for today."""

    session: SessionInfo
    principal: Principal

    @property
    def csrf(self) -> str:
        return self.session.csrf

    @property
    def is_admin(self) -> bool:
        return self.principal.is_admin

    @property
    def tenant_id(self) -> str:
        if self.principal.tenant_id is None:
            raise PermissionDenied(
                "This page is a tenant's; sign in with one of the tenant's API keys.",
                code="tenant_key_required",
            )
        return self.principal.tenant_id

    def context(self, request: Request) -> RequestContext:
        """The pipeline's context for a call made on this visitor's behalf."""
        ctx = RequestContext(request_id=request.state.request_id, principal=self.principal)
        request.state.ctx = ctx  # the middleware adds ctx.response_headers to the response
        return ctx


async def signed_in(request: Request, services: ServicesDep, stores: StoresDep) -> Visitor:
    token = request.cookies.get(COOKIE)
    session = await stores.sessions.find(token) if token else None
    if session is None:
        raise SignInRequired
    try:
        principal = await _principal(services, session)
    except AuthenticationFailed:  # the key was revoked, expired or changed: so is the session
        await stores.sessions.end(session.id)
        raise SignInRequired from None
    visitor = Visitor(session, principal)
    request.state.console = visitor  # what the templates show (who, the CSRF token)
    return visitor


VisitorDep = Annotated[Visitor, Depends(signed_in)]


async def _principal(services: Services, session: SessionInfo) -> Principal:
    authenticator = services.authenticator
    if session.kind != "admin":
        return await authenticator.principal_for_key(session.key_id)
    if not hmac.compare_digest(session.key_id, authenticator.admin_fingerprint()):
        raise AuthenticationFailed("The admin key has changed since this session began.")
    return ADMIN


def session_key_id(services: Services, principal: Principal) -> str:
    """What a new session remembers of its key: the key's id, or the admin key's fingerprint."""
    return services.authenticator.admin_fingerprint() if principal.is_admin else principal.key_id


def same_origin(request: Request) -> None:
    """A browser names the page a POST comes from; one from another origin is refused even
    before its token is looked at."""
    origin = request.headers.get("origin")
    if origin is None:  # not a browser's cross-site request: those always say where from
        return
    expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
    if origin != expected:
        raise PermissionDenied(
            "This request came from another site's page and was refused.", code="csrf_failed"
        )


async def read_form(request: Request, limit: int = _MAX_FORM_BYTES) -> dict[str, str]:
    """A url-encoded form's fields (most of the console's forms are small)."""
    body = await request.body()
    if len(body) > limit:
        raise InvalidRequest("The form is too large.", code="form_too_large")
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise InvalidRequest("The form is not valid UTF-8.", code="invalid_form") from None
    return {name: values[-1] for name, values in fields.items()}


async def checked_form(request: Request, visitor: VisitorDep) -> dict[str, str]:
    """The form of a state-changing request, once its CSRF token matches the session's."""
    same_origin(request)
    form = await read_form(request)
    token = form.get("csrf") or request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(token.encode(), visitor.csrf.encode()):
        raise PermissionDenied(
            "This form has expired or did not come from the console; reload the page and "
            "try again.",
            code="csrf_failed",
        )
    return form


FormDep = Annotated[dict[str, str], Depends(checked_form)]


def check_csrf_header(request: Request, visitor: Visitor) -> None:
    """For the chat's JSON requests: the token travels in a header."""
    same_origin(request)
    token = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(token.encode(), visitor.csrf.encode()):
        raise PermissionDenied(
            "The request lacks the console's CSRF token; reload the page.", code="csrf_failed"
        )
