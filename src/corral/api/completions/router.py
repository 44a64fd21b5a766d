"""HTTP route of legacy completions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from corral.api.completions.protocol import CompletionRequest
from corral.api.completions.serving import CompletionServing
from corral.api.deps import ContextDep, ServicesDep, json_body
from corral.api.idempotency import serve_inference

router = APIRouter()


@router.post("/v1/completions", response_model=None)
async def create_completion(
    http: Request,
    ctx: ContextDep,
    services: ServicesDep,
    request: Annotated[CompletionRequest, Depends(json_body(CompletionRequest))],
) -> Response:
    serving = CompletionServing(services.gateway)
    return await serve_inference(http, ctx, services, lambda: serving.create(ctx, request))
