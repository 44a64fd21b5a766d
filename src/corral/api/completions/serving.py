"""Legacy completions: a raw prompt continued by the model, whole or streamed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from corral.api import sse
from corral.api.common import usage_out
from corral.api.completions.protocol import CompletionChoice, CompletionRequest, CompletionResponse
from corral.backends.base import (
    Finished,
    GenerationRequest,
    SamplingParams,
    StreamEvent,
    TextDelta,
    TokenLogprob,
)
from corral.pipeline.gateway import Gateway, RequestContext


def to_generation_request(request: CompletionRequest, request_id: str) -> GenerationRequest:
    params = SamplingParams(
        max_tokens=request.max_tokens,
        temperature=1.0 if request.temperature is None else request.temperature,
        top_p=1.0 if request.top_p is None else request.top_p,
        stop=request.stop_sequences(),
        seed=request.seed,
        presence_penalty=request.presence_penalty or 0.0,
        frequency_penalty=request.frequency_penalty or 0.0,
        logprobs=request.logprobs is not None,
        top_logprobs=request.logprobs or 0,
    )
    return GenerationRequest(request_id=request_id, params=params, prompt=request.prompt_text())


def legacy_logprobs(items: list[TokenLogprob]) -> dict[str, Any]:
    """The legacy endpoint's column-wise logprobs object."""
    offsets, position = [], 0
    for item in items:
        offsets.append(position)
        position += len(item.token)
    return {
        "tokens": [i.token for i in items],
        "token_logprobs": [i.logprob for i in items],
        "top_logprobs": [{t.token: t.logprob for t in i.top_logprobs} for i in items],
        "text_offset": offsets,
    }


class CompletionServing:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def create(
        self, ctx: RequestContext, request: CompletionRequest
    ) -> CompletionResponse | AsyncIterator[bytes]:
        model = await self.gateway.resolve(ctx, request.model)
        generation = to_generation_request(request, ctx.request_id)
        completion_id = "cmpl-" + ctx.request_id.removeprefix("req_")
        prefix = request.prompt_text() if request.echo else ""
        if request.stream:
            events = await self.gateway.stream(ctx, model, generation)
            return self._sse(events, completion_id, model.id, prefix, request.include_usage())
        result = await self.gateway.generate(ctx, model, generation)
        choice: CompletionChoice = {
            "index": 0,
            "text": prefix + result.text,
            "logprobs": legacy_logprobs(result.logprobs) if result.logprobs else None,
            "finish_reason": result.finish_reason,
        }
        return {
            "id": completion_id,
            "object": "text_completion",
            "created": int(time.time()),
            "model": model.id,
            "choices": [choice],
            "usage": usage_out(result.usage),
            "system_fingerprint": None,
        }

    async def _sse(
        self,
        events: AsyncIterator[StreamEvent],
        completion_id: str,
        model: str,
        prefix: str,
        usage: bool,
    ) -> AsyncIterator[bytes]:
        writer = sse.ChunkWriter(completion_id, "text_completion", model, usage)

        def chunk(text: str, finish: str | None = None, logprobs: Any = None) -> bytes:
            return writer.choice(
                {"index": 0, "text": text, "logprobs": logprobs, "finish_reason": finish}
            )

        if prefix:
            yield chunk(prefix)
        async for event in events:
            if isinstance(event, TextDelta):
                logprobs = legacy_logprobs(event.logprobs) if event.logprobs else None
                yield chunk(event.text, logprobs=logprobs)
            elif isinstance(event, Finished):
                yield chunk("", event.reason)
                if usage:
                    yield writer.usage(event.usage)
        yield sse.DONE
