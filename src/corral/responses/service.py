"""Creating a response: the chat pipeline underneath, output items and storage around it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from corral.backends.base import GenerationRequest, SamplingParams
from corral.pipeline.gateway import Gateway, RequestContext, Target
from corral.responses import items
from corral.responses.events import EventWriter
from corral.responses.store import ResponseStore


@dataclass(frozen=True, slots=True)
class ResponseCall:
    """A Responses request as the domain takes it (the HTTP layer has checked its shape)."""

    model: str
    input: str | list[items.Item]
    params: SamplingParams
    instructions: str | None = None
    previous_response_id: str | None = None
    store: bool = True
    echo: dict[str, Any] = field(default_factory=dict)
    """Request settings the response object repeats (tools, text, temperature ...)."""


class ResponsesService:
    def __init__(self, gateway: Gateway, store: ResponseStore) -> None:
        self.gateway = gateway
        self.store = store

    async def create(
        self, ctx: RequestContext, call: ResponseCall, *, stream: bool
    ) -> dict[str, Any] | AsyncIterator[bytes]:
        target = await self.gateway.resolve(ctx, call.model)
        inputs = items.input_items(call.model, call.input)
        history: list[items.Item] = []
        if call.previous_response_id is not None:
            history = await self.store.history(owner(ctx), call.previous_response_id)
        generation = GenerationRequest(
            request_id=ctx.request_id,
            params=call.params,
            messages=items.chat_messages(call.instructions, history + inputs),
        )
        settings = _settings(call, target)
        response_id = "resp_" + ctx.request_id.removeprefix("req_")
        if stream:
            events = await self.gateway.stream(ctx, target, generation)
            writer = EventWriter(response_id, target.id, settings)
            return self._streamed(ctx, call, inputs, writer.frames(events))
        result = await self.gateway.generate(ctx, target, generation)
        response = items.response_object(
            response_id,
            target.id,
            settings,
            items.output_items(result),
            result.usage,
            result.finish_reason,
        )
        if call.store:
            await self.store.save(owner(ctx), response, inputs)
        return response

    async def _streamed(
        self,
        ctx: RequestContext,
        call: ResponseCall,
        inputs: list[items.Item],
        frames: AsyncIterator[bytes | dict[str, Any]],
    ) -> AsyncIterator[bytes]:
        async for frame in frames:
            if isinstance(frame, dict):  # the final response object, once the stream ends
                if call.store:
                    await self.store.save(owner(ctx), frame, inputs)
                continue
            yield frame


def owner(ctx: RequestContext) -> str:
    """Whose stored responses these are: the tenant's, or the operator's (admin key)."""
    return ctx.principal.tenant_id or "admin"


def _settings(call: ResponseCall, target: Target) -> dict[str, Any]:
    params = call.params
    return {
        "created_at": int(time.time()),
        "instructions": call.instructions,
        "max_output_tokens": params.max_tokens,
        "previous_response_id": call.previous_response_id,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "store": call.store,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "text": {"format": {"type": "text"}},
        "truncation": "disabled",
        "reasoning": {"effort": None, "summary": None},
        "metadata": {},
        "user": None,
        **call.echo,
    }
