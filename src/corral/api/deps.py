"""FastAPI dependencies: the services the app holds, the authenticated caller, parsed bodies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from corral.api.errors import from_validation_error
from corral.observability.metrics import Metrics
from corral.pipeline.auth import Authenticator
from corral.pipeline.gateway import Gateway, RequestContext
from corral.settings import Settings

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(slots=True)
class Services:
    """Everything a request handler may use, built once at start (see `api.app`)."""

    settings: Settings
    gateway: Gateway
    authenticator: Authenticator
    metrics: Metrics
    ready: bool = False


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def authenticate(request: Request, services: ServicesDep) -> RequestContext:
    principal = services.authenticator.authenticate(request.headers.get("authorization"))
    return RequestContext(request_id=request.state.request_id, principal=principal)


ContextDep = Annotated[RequestContext, Depends(authenticate)]


def json_body(model: type[ModelT]) -> Callable[[Request], Awaitable[ModelT]]:
    """Parse the raw body straight into `model` (one pass, strict types, OpenAI-style errors)."""

    async def parse(request: Request) -> ModelT:
        raw = await request.body()
        try:
            return model.model_validate_json(raw)
        except ValidationError as exc:
            raise from_validation_error(exc) from None

    return parse
