"""FastAPI dependencies: the services the app holds (`corral.services`), the authenticated
caller, parsed bodies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from corral.api.errors import from_validation_error
from corral.errors import ClientClosedRequest, PermissionDenied
from corral.pipeline.gateway import RequestContext
from corral.services import Services

ModelT = TypeVar("ModelT", bound=BaseModel)


async def get_services(request: Request) -> Services:
    # async on purpose: FastAPI runs a plain `def` dependency in a worker thread, a thread hop
    # on every request (bench/results/design_figures.md).
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def authenticate(request: Request, services: ServicesDep) -> RequestContext:
    principal = await services.authenticator.authenticate(request.headers.get("authorization"))
    ctx = RequestContext(request_id=request.state.request_id, principal=principal)
    request.state.ctx = ctx  # the middleware adds ctx.response_headers to the response
    return ctx


ContextDep = Annotated[RequestContext, Depends(authenticate)]


async def tenant_context(ctx: ContextDep) -> RequestContext:
    if ctx.principal.tenant_id is None:
        raise PermissionDenied(
            "This endpoint acts for a tenant; call it with one of the tenant's API keys "
            "(the admin key has /admin/... instead).",
            code="tenant_key_required",
        )
    return ctx


TenantContextDep = Annotated[RequestContext, Depends(tenant_context)]


async def admin_context(ctx: ContextDep) -> RequestContext:
    if not ctx.principal.is_admin:
        raise PermissionDenied(
            "The /admin API needs the operator's admin key.", code="admin_key_required"
        )
    return ctx


AdminDep = Annotated[RequestContext, Depends(admin_context)]


class JsonBody(Generic[ModelT]):
    """A dependency parsing the raw body straight into `model` (one pass, strict types,
    OpenAI-style errors); `api.openapi` reads `model` to document the route's body. With
    `may_be_empty`, an empty body is `model()`."""

    def __init__(self, model: type[ModelT], *, may_be_empty: bool = False) -> None:
        self.model = model
        self.may_be_empty = may_be_empty

    async def __call__(self, request: Request) -> ModelT:
        if self.may_be_empty and not (await request.body()).strip():
            return self.model()
        return await parsed_body(request, self.model)


def json_body(model: type[ModelT], *, may_be_empty: bool = False) -> JsonBody[ModelT]:
    return JsonBody(model, may_be_empty=may_be_empty)


async def parsed_body(
    request: Request, model: type[ModelT], context: dict[str, Any] | None = None
) -> ModelT:
    try:
        raw = await request.body()
    except ClientDisconnect:
        raise ClientClosedRequest(
            "The client closed the connection before sending the whole request."
        ) from None
    try:
        return model.model_validate_json(raw, context=context)
    except ValidationError as exc:
        raise from_validation_error(exc) from None


@dataclass(slots=True)
class InferenceCall(Generic[ModelT]):
    """An inference request, authenticated and parsed: what its route hands to serving."""

    ctx: RequestContext
    services: Services
    body: ModelT


async def inference_call(request: Request, model: type[ModelT]) -> InferenceCall[ModelT]:
    """`authenticate`, then `parsed_body`, as plain calls: the inference routes are the hot path,
    and FastAPI solving them as three dependencies costs every request its own overhead."""
    services = await get_services(request)
    ctx = await authenticate(request, services)
    context = {"schema_limits": services.settings.schema_limits}
    return InferenceCall(ctx, services, await parsed_body(request, model, context))
