"""Chat completions: OpenAI's request in, the pipeline's result out, as a response or SSE stream."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from corral.api import sse
from corral.api.chat.protocol import (
    ChatCompletionRequest,
    ChatCompletionResponse,
    Choice,
    ChoiceLogprobs,
    Message,
    ResponseMessage,
    ToolCallOut,
)
from corral.api.common import logprob_content, usage_out
from corral.backends.base import (
    ChatMessage,
    Finished,
    GenerationRequest,
    GenerationResult,
    SamplingParams,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolSpec,
)
from corral.pipeline.gateway import Gateway, RequestContext, party_of

_ROLES = {"developer": "system"}


def to_generation_request(
    request: ChatCompletionRequest, request_id: str, party: str = ""
) -> GenerationRequest:
    params = SamplingParams(
        max_tokens=request.token_limit(),
        temperature=1.0 if request.temperature is None else request.temperature,
        top_p=1.0 if request.top_p is None else request.top_p,
        stop=request.stop_sequences(),
        seed=request.seed,
        presence_penalty=request.presence_penalty or 0.0,
        frequency_penalty=request.frequency_penalty or 0.0,
        logprobs=bool(request.logprobs),
        logit_bias=request.biases(),
        top_logprobs=request.top_logprobs or 0,
        json_schema=request.json_schema(),
        json_schema_strict=request.json_schema_strict(),
        tools=tuple(
            ToolSpec(t.function.name, t.function.description, t.function.parameters)
            for t in request.tools or []
        ),
        tool_choice=request.chosen_tool(),
    )
    messages = tuple(_message(m) for m in request.messages)
    return GenerationRequest(request_id=request_id, params=params, messages=messages, party=party)


def _message(message: Message) -> ChatMessage:
    calls = tuple(
        ToolCall(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []
    )
    role = _ROLES.get(message.role, message.role)
    return ChatMessage(role, message.text(), calls, message.tool_call_id)  # type: ignore[arg-type]


class ChatServing:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def create(
        self, ctx: RequestContext, request: ChatCompletionRequest
    ) -> ChatCompletionResponse | AsyncIterator[bytes]:
        model = await self.gateway.resolve(ctx, request.model)
        generation = to_generation_request(request, ctx.request_id, party_of(ctx.principal))
        completion_id = "chatcmpl-" + ctx.request_id.removeprefix("req_")
        if request.stream:
            events = await self.gateway.stream(ctx, model, generation)
            return self._sse(events, completion_id, model.id, request.include_usage())
        result = await self.gateway.generate(ctx, model, generation)
        logprobs: ChoiceLogprobs | None = None
        if result.logprobs is not None:
            logprobs = {"content": logprob_content(result.logprobs), "refusal": None}
        choice: Choice = {
            "index": 0,
            "message": _response_message(result),
            "logprobs": logprobs,
            "finish_reason": result.finish_reason,
        }
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model.id,
            "choices": [choice],
            "usage": usage_out(result.usage),
            "system_fingerprint": None,
        }

    async def _sse(
        self, events: AsyncIterator[StreamEvent], completion_id: str, model: str, usage: bool
    ) -> AsyncIterator[bytes]:
        writer = sse.ChunkWriter(completion_id, "chat.completion.chunk", model, usage)

        def chunk(delta: dict[str, Any], finish: str | None = None, logprobs: Any = None) -> bytes:
            return writer.choice(
                {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
            )

        yield chunk({"role": "assistant", "content": ""})
        async for event in events:
            if isinstance(event, TextDelta):
                logprobs = None
                if event.logprobs:
                    logprobs = {"content": logprob_content(event.logprobs)}
                yield chunk({"content": event.text}, logprobs=logprobs)
            elif isinstance(event, ToolCallDelta):
                yield chunk({"tool_calls": [_tool_call_delta(event)]})
            elif isinstance(event, Finished):
                yield chunk({}, event.reason)
                if usage:
                    yield writer.usage(event.usage)
        yield sse.DONE


def _response_message(result: GenerationResult) -> ResponseMessage:
    if not result.tool_calls:
        return {"role": "assistant", "content": result.text, "refusal": None, "tool_calls": None}
    calls: list[ToolCallOut] = [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
        for c in result.tool_calls
    ]
    return {
        "role": "assistant",
        "content": result.text or None,
        "refusal": None,
        "tool_calls": calls,
    }


def _tool_call_delta(event: ToolCallDelta) -> dict[str, Any]:
    function: dict[str, Any] = {"arguments": event.arguments}
    delta: dict[str, Any] = {"index": event.index, "function": function}
    if event.id is not None:
        delta.update(id=event.id, type="function")
    if event.name is not None:
        function["name"] = event.name
    return delta
