"""Operational routes: liveness, readiness and Prometheus metrics.

`/readyz` answers everyone a bare status (a load balancer needs no more); the operator's key
gets the details: each model's state and each store's. `/metrics` needs the admin key unless
`[ops] public_metrics` is set, and then private models' names are hidden. Nothing here shows a
credential written into a URL.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from corral.api.deps import ServicesDep, admin_context, authenticate
from corral.api.jsonresponse import json_response
from corral.observability.redact import redact
from corral.services import Services

router = APIRouter()


class Liveness(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    """What `/readyz` answers (200 when ready, 503 otherwise); the details for the admin key."""

    status: Literal["ready", "starting", "unavailable"]
    load_models: Literal["start", "first_use"] | None = None
    models: dict[str, str] | None = None
    """Each model's backend state, in words."""
    dependencies: dict[str, Literal["ok", "unavailable"]] | None = None


@router.get("/healthz", response_model=Liveness)
async def healthz() -> Response:
    return json_response({"status": "ok"})


@router.get("/readyz", response_model=Readiness)
async def readyz(request: Request, services: ServicesDep) -> Response:
    body = await readiness(services)
    code = 200 if body["status"] == "ready" else 503
    if not services.authenticator.is_admin(request.headers.get("authorization")):
        return json_response({"status": body["status"]}, status_code=code)
    return json_response(body, status_code=code)


async def readiness(services: Services) -> dict[str, Any]:
    """`/readyz`'s answer with the operator's details (the console's health page shows it)."""
    stores = await services.readiness.dependencies()
    if not services.ready:
        status = "starting"
    elif any(state != "ok" for state in stores.values()):
        status = "unavailable"
    else:
        status = "ready"
    models = {
        entry.id: redact(entry.backend.health().detail)
        for entry in services.gateway.catalog.entries()
    }
    return {
        "status": status,
        "load_models": services.settings.server.load_models,
        "models": models,
        "dependencies": stores,
    }


@router.get("/metrics")
async def metrics(request: Request, services: ServicesDep) -> Response:
    if services.settings.ops.public_metrics:
        admin = services.authenticator.is_admin(request.headers.get("authorization"))
    else:
        await admin_context(await authenticate(request, services))  # 401 or 403 otherwise
        admin = True
    hidden = frozenset(
        entry.id for entry in services.gateway.catalog.entries() if entry.tier == "private"
    )
    text = services.metrics.exposition(frozenset() if admin else hidden)
    return Response(text, media_type=CONTENT_TYPE_LATEST)
