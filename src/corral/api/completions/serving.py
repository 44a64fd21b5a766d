"""Legacy completions: a raw prompt continued by the model, whole or streamed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from corral.api import sse
from corral.api.common import usage_out
from corral.api.completions.protocol import (
    CompletionChoice,
    CompletionRequest,
    CompletionResponse,
    Prompt,
)
from corral.backends.base import (
    Finished,
    GenerationRequest,
    GenerationResult,
    SamplingParams,
    StreamEvent,
    TextDelta,
    TokenLogprob,
    Usage,
)
from corral.pipeline.gateway import Gateway, RequestContext


def to_generation_request(
    request: CompletionRequest, prompt: Prompt, request_id: str
) -> GenerationRequest:
    params = SamplingParams(
        max_tokens=request.max_tokens,
        temperature=1.0 if request.temperature is None else request.temperature,
        top_p=1.0 if request.top_p is None else request.top_p,
        stop=request.stop_sequences(),
        seed=request.seed,
        presence_penalty=request.presence_penalty or 0.0,
        frequency_penalty=request.frequency_penalty or 0.0,
        logprobs=request.logprobs is not None,
        logit_bias=request.biases(),
        top_logprobs=request.logprobs or 0,
    )
    # Token ids are echoed from the model's own pieces, so they are scored whenever echoed.
    echo = bool(request.echo) and (request.logprobs is not None or not isinstance(prompt, str))
    if isinstance(prompt, str):
        return GenerationRequest(request_id, params, prompt=prompt, echo=echo)
    return GenerationRequest(request_id, params, prompt_tokens=prompt, echo=echo)


def legacy_logprobs(items: list[TokenLogprob]) -> dict[str, Any]:
    """The legacy endpoint's column-wise logprobs object; offsets count from the echoed
    prompt's start when there is one."""
    offsets, position = [], 0
    for item in items:
        offsets.append(position)
        position += len(item.token)
    return {
        "tokens": [i.token for i in items],
        "token_logprobs": [i.logprob for i in items],
        "top_logprobs": [
            None if i.logprob is None else {t.token: t.logprob for t in i.top_logprobs}
            for i in items
        ],
        "text_offset": offsets,
    }


class CompletionServing:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def create(
        self, ctx: RequestContext, request: CompletionRequest
    ) -> CompletionResponse | AsyncIterator[bytes]:
        model = await self.gateway.resolve(ctx, request.model)
        completion_id = "cmpl-" + ctx.request_id.removeprefix("req_")
        prompts = request.prompts()
        if request.stream:
            generation = to_generation_request(request, prompts[0], ctx.request_id)
            prefix = prompts[0] if request.echo and isinstance(prompts[0], str) else ""
            events = await self.gateway.stream(ctx, model, generation)
            return self._sse(events, completion_id, model.id, prefix, request.include_usage())
        choices, usage = [], Usage(0, 0)
        for index, prompt in enumerate(prompts):
            # Each prompt is its own call, billed under its own id.
            call = ctx if index == 0 else replace(ctx, request_id=f"{ctx.request_id}.{index}")
            generation = to_generation_request(request, prompt, call.request_id)
            result = await self.gateway.generate(call, model, generation)
            choices.append(_choice(index, request, prompt, result))
            usage = Usage(
                usage.prompt_tokens + result.usage.prompt_tokens,
                usage.completion_tokens + result.usage.completion_tokens,
                usage.cached_tokens + result.usage.cached_tokens,
            )
        return {
            "id": completion_id,
            "object": "text_completion",
            "created": int(time.time()),
            "model": model.id,
            "choices": choices,
            "usage": usage_out(usage),
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


def _choice(
    index: int, request: CompletionRequest, prompt: Prompt, result: GenerationResult
) -> CompletionChoice:
    entries = result.logprobs or []
    prefix = ""
    if request.echo:
        prompt_length = len(prompt) if not isinstance(prompt, str) else 0
        # Token ids are echoed as the model's own pieces of them.
        pieces = b"".join(bytes(e.bytes) for e in entries[:prompt_length])
        prefix = prompt if isinstance(prompt, str) else pieces.decode("utf-8", errors="replace")
    logprobs = None
    if request.logprobs is not None:
        logprobs = legacy_logprobs(entries)
    return {
        "index": index,
        "text": prefix + result.text,
        "logprobs": logprobs,
        "finish_reason": result.finish_reason,
    }
