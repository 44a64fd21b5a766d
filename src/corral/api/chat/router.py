"""HTTP route of chat completions: translate, await the serving layer, respond."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from corral.api.chat.protocol import ChatCompletionRequest
from corral.api.chat.serving import ChatServing
from corral.api.deps import ContextDep, ServicesDep, json_body
from corral.api.streaming import respond, unless_client_leaves

router = APIRouter()


@router.post("/v1/chat/completions", response_model=None)
async def create_chat_completion(
    http: Request,
    ctx: ContextDep,
    services: ServicesDep,
    request: Annotated[ChatCompletionRequest, Depends(json_body(ChatCompletionRequest))],
) -> Response:
    serving = ChatServing(services.gateway)
    return await respond(await unless_client_leaves(http, serving.create(ctx, request)))
