"""HTTP route of chat completions: translate, await the serving layer, respond."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from corral.api.chat.protocol import ChatCompletionRequest
from corral.api.chat.serving import ChatServing
from corral.api.deps import ContextDep, ServicesDep, json_body
from corral.api.idempotency import serve_inference

router = APIRouter()


@router.post("/v1/chat/completions", response_model=None)
async def create_chat_completion(
    http: Request,
    ctx: ContextDep,
    services: ServicesDep,
    request: Annotated[ChatCompletionRequest, Depends(json_body(ChatCompletionRequest))],
) -> Response:
    serving = ChatServing(services.gateway)
    return await serve_inference(http, ctx, services, lambda: serving.create(ctx, request))
