"""HTTP route of embeddings."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from corral.api.deps import inference_call
from corral.api.embeddings.protocol import EmbeddingRequest
from corral.api.embeddings.serving import EmbeddingServing
from corral.api.openapi import request_body
from corral.api.replay import serve_inference

router = APIRouter()


# The route parses its own body (the hot path): the document learns its shape here.
@router.post(
    "/v1/embeddings",
    response_model=None,
    openapi_extra={"requestBody": request_body(EmbeddingRequest)},
)
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
