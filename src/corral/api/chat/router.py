"""HTTP route of chat completions: translate, await the serving layer, respond."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from corral.api.chat.protocol import ChatCompletionRequest
from corral.api.chat.serving import ChatServing
from corral.api.deps import inference_call
from corral.api.openapi import request_body
from corral.api.replay import serve_inference

router = APIRouter()


# The route parses its own body (the hot path): the document learns its shape here.
@router.post(
    "/v1/chat/completions",
    response_model=None,
    openapi_extra={"requestBody": request_body(ChatCompletionRequest)},
)
async def create_chat_completion(http: Request) -> Response:
    call = await inference_call(http, ChatCompletionRequest)
    serving = ChatServing(call.services.gateway)
    return await serve_inference(
        http,
        call.ctx,
        call.services,
        lambda: serving.create(call.ctx, call.body),
        call.body.model,
    )
