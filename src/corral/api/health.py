"""Operational routes: liveness, readiness (are the models loaded?) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from corral.api.deps import ServicesDep
from corral.api.jsonresponse import json_response

router = APIRouter()


@router.get("/healthz")
async def healthz() -> Response:
    return json_response({"status": "ok"})


@router.get("/readyz")
async def readyz(services: ServicesDep) -> Response:
    models = {
        entry.id: entry.backend.health().detail for entry in services.gateway.catalog.entries()
    }
    body = {
        "status": "ready" if services.ready else "starting",
        "load_models": services.settings.server.load_models,
        "models": models,
    }
    return json_response(body, status_code=200 if services.ready else 503)


@router.get("/metrics")
async def metrics(services: ServicesDep) -> Response:
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
