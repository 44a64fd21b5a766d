"""HTTP route of embeddings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from corral.api.deps import ContextDep, ServicesDep, json_body
from corral.api.embeddings.protocol import EmbeddingRequest
from corral.api.embeddings.serving import EmbeddingServing
from corral.api.streaming import respond

router = APIRouter()


@router.post("/v1/embeddings", response_model=None)
async def create_embedding(
    ctx: ContextDep,
    services: ServicesDep,
    request: Annotated[EmbeddingRequest, Depends(json_body(EmbeddingRequest))],
) -> Response:
    return await respond(await EmbeddingServing(services.gateway).create(ctx, request))
