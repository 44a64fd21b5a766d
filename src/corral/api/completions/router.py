"""HTTP route of legacy completions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from corral.api.completions.protocol import CompletionRequest
from corral.api.completions.serving import CompletionServing
from corral.api.deps import inference_call
from corral.api.openapi import request_body
from corral.api.replay import serve_inference

router = APIRouter()


# The route parses its own body (the hot path): the document learns its shape here.
@router.post(
    "/v1/completions",
    response_model=None,
    openapi_extra={"requestBody": request_body(CompletionRequest)},
)
async def create_completion(http: Request) -> Response:
    call = await inference_call(http, CompletionRequest)
    serving = CompletionServing(call.services.gateway)
    return await serve_inference(
        http,
        call.ctx,
        call.services,
        lambda: serving.create(call.ctx, call.body),
        call.body.model,
    )
