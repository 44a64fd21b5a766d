"""HTTP route of embeddings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from corral.api.deps import ContextDep, ServicesDep, json_body
from corral.api.embeddings.protocol import EmbeddingRequest
from corral.api.embeddings.serving import EmbeddingServing
from corral.api.idempotency import serve_inference

router = APIRouter()


@router.post("/v1/embeddings", response_model=None)
async def create_embedding(
    http: Request,
    ctx: ContextDep,
    services: ServicesDep,
    request: Annotated[EmbeddingRequest, Depends(json_body(EmbeddingRequest))],
) -> Response:
    serving = EmbeddingServing(services.gateway)
    return await serve_inference(http, ctx, services, lambda: serving.create(ctx, request))
