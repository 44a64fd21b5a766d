"""HTTP route of embeddings."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from corral.api.deps import inference_call
from corral.api.embeddings.protocol import EmbeddingRequest
from corral.api.embeddings.serving import EmbeddingServing
from corral.api.idempotency import serve_inference

router = APIRouter()


@router.post("/v1/embeddings", response_model=None)
async def create_embedding(http: Request) -> Response:
    call = await inference_call(http, EmbeddingRequest)
    serving = EmbeddingServing(call.services.gateway)
    return await serve_inference(
        http,
        call.ctx,
        call.services,
        lambda: serving.create(call.ctx, call.body),
        call.body.model,
    )
