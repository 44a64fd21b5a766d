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
    ResponseMessage,
)
from corral.api.common import UsageOut, logprob_content
from corral.backends.base import (
    ChatMessage,
    Finished,
    GenerationRequest,
    SamplingParams,
    StreamEvent,
    TextDelta,
)
from corral.pipeline.gateway import Gateway, RequestContext

_ROLES = {"developer": "system"}


def to_generation_request(request: ChatCompletionRequest, request_id: str) -> GenerationRequest:
    params = SamplingParams(
        max_tokens=request.token_limit(),
        temperature=1.0 if request.temperature is None else request.temperature,
        top_p=1.0 if request.top_p is None else request.top_p,
        stop=request.stop_sequences(),
        seed=request.seed,
        presence_penalty=request.presence_penalty or 0.0,
        frequency_penalty=request.frequency_penalty or 0.0,
        logprobs=bool(request.logprobs),
        top_logprobs=request.top_logprobs or 0,
        json_schema=request.json_schema(),
    )
    messages = tuple(
        ChatMessage(role=_ROLES.get(m.role, m.role), content=m.text())  # type: ignore[arg-type]
        for m in request.messages
    )
    return GenerationRequest(request_id=request_id, params=params, messages=messages)


class ChatServing:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def create(
        self, ctx: RequestContext, request: ChatCompletionRequest
    ) -> ChatCompletionResponse | AsyncIterator[bytes]:
        model = await self.gateway.resolve(ctx, request.model)
        generation = to_generation_request(request, ctx.request_id)
        completion_id = "chatcmpl-" + ctx.request_id.removeprefix("req_")
        if request.stream:
            events = await self.gateway.stream(ctx, model, generation)
            return self._sse(events, completion_id, model.id, request.include_usage())
        result = await self.gateway.generate(ctx, model, generation)
        logprobs = None
        if result.logprobs is not None:
            logprobs = ChoiceLogprobs(content=logprob_content(result.logprobs))
        return ChatCompletionResponse(
            id=completion_id,
            created=int(time.time()),
            model=model.id,
            choices=[
                Choice(
                    message=ResponseMessage(content=result.text),
                    logprobs=logprobs,
                    finish_reason=result.finish_reason,
                )
            ],
            usage=UsageOut.of(result.usage),
        )

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
            elif isinstance(event, Finished):
                yield chunk({}, event.reason)
                if usage:
                    yield writer.usage(event.usage)
        yield sse.DONE
