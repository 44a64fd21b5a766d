"""Between corral's backend values and OpenAI's Chat Completions wire format, both ways.

Pure functions and one small stream accumulator: nothing here does I/O, so every mapping is
tested without a server. Parameters left at OpenAI's own defaults are not sent, so servers
that reject a parameter for some models (reasoning models and `temperature`) are not upset.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from openai.types import CompletionUsage
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionTokenLogprob,
)

from corral.backends.base import (
    ChatMessage,
    FinishReason,
    GenerationRequest,
    GenerationResult,
    SamplingParams,
    StreamEvent,
    TextDelta,
    TokenLogprob,
    ToolCall,
    ToolCallDelta,
    TopLogprob,
    Usage,
    UsageMeter,
)
from corral.backends.remote.common import meter_text, prompt_token_bound

_FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}
_BYTES_PER_TOKEN_ESTIMATE = 4


@dataclass(frozen=True, slots=True)
class Options:
    """How one upstream wants its requests: its model name, its name for the token limit."""

    model: str
    max_tokens_field: str = "max_tokens"


# -- requests ----------------------------------------------------------------------------------


def chat_arguments(request: GenerationRequest, options: Options) -> dict[str, Any]:
    """Keyword arguments of `chat.completions.create` for this request (without `stream`).

    A plain `prompt` (the legacy completions endpoint) goes as one user message: one code path,
    and `/v1/completions` is legacy at OpenAI and absent from many compatible servers.
    """
    arguments: dict[str, Any] = {"model": options.model, "messages": messages(request)}
    arguments.update(sampling(request.params, options.max_tokens_field))
    arguments.update(tooling(request.params))
    if request.params.json_schema is not None:
        arguments["response_format"] = response_format(request.params.json_schema)
    return arguments


def messages(request: GenerationRequest) -> list[dict[str, Any]]:
    if request.messages is None:
        return [{"role": "user", "content": request.prompt or ""}]
    return [message(m) for m in request.messages]


def message(chat: ChatMessage) -> dict[str, Any]:
    wire: dict[str, Any] = {"role": chat.role, "content": chat.content}
    if chat.tool_calls:
        wire["content"] = chat.content or None
        wire["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in chat.tool_calls
        ]
    if chat.tool_call_id is not None:
        wire["tool_call_id"] = chat.tool_call_id
    return wire


def sampling(params: SamplingParams, max_tokens_field: str) -> dict[str, Any]:
    """The sampling parameters that differ from OpenAI's defaults."""
    defaults = SamplingParams()
    wire: dict[str, Any] = {}
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty", "seed"):
        value = getattr(params, name)
        if value != getattr(defaults, name):
            wire[name] = value
    if params.max_tokens is not None:
        wire[max_tokens_field] = params.max_tokens
    if params.stop:
        wire["stop"] = list(params.stop)
    if params.logprobs:
        wire["logprobs"] = True
        if params.top_logprobs:
            wire["top_logprobs"] = params.top_logprobs
    return wire


def tooling(params: SamplingParams) -> dict[str, Any]:
    wire: dict[str, Any] = {}
    if params.tools:
        wire["tools"] = [
            {"type": "function", "function": _function(t.name, t.description, t.parameters)}
            for t in params.tools
        ]
    if params.tool_choice is not None:
        wire["tool_choice"] = tool_choice(params.tool_choice)
    return wire


def _function(
    name: str, description: str | None, parameters: dict[str, Any] | None
) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name}
    if description is not None:
        spec["description"] = description
    if parameters is not None:
        spec["parameters"] = parameters
    return spec


def tool_choice(choice: str) -> str | dict[str, Any]:
    if choice in ("auto", "none", "required"):
        return choice
    return {"type": "function", "function": {"name": choice}}


def response_format(schema: dict[str, Any]) -> dict[str, Any]:
    """`{}` is JSON mode (any object); anything else a strict JSON schema."""
    if not schema:
        return {"type": "json_object"}
    return {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": schema, "strict": True},
    }


# -- answers -----------------------------------------------------------------------------------


def finish_reason(raw: str | None) -> FinishReason:
    return _FINISH_REASONS.get(raw or "stop", "stop")


def usage(reported: CompletionUsage | None, meter: UsageMeter) -> Usage:
    """The provider's counts, copied to the meter; the meter's estimates if none came."""
    if reported is not None:
        meter.prompt_tokens = reported.prompt_tokens
        meter.completion_tokens = reported.completion_tokens
    return Usage(meter.prompt_tokens, meter.completion_tokens)


def estimate_prompt(request: GenerationRequest) -> int:
    """A guess of the prompt's tokens, billed only if the provider never reports its count."""
    return math.ceil(prompt_token_bound(request) / _BYTES_PER_TOKEN_ESTIMATE)


def logprobs(content: list[ChatCompletionTokenLogprob] | None) -> list[TokenLogprob]:
    return [
        TokenLogprob(
            token=item.token,
            logprob=item.logprob,
            bytes=item.bytes or [],
            top_logprobs=[
                TopLogprob(top.token, top.logprob, top.bytes or []) for top in item.top_logprobs
            ],
        )
        for item in content or ()
    ]


def result(completion: ChatCompletion, request: GenerationRequest) -> GenerationResult:
    """The whole answer; the meter is set from the provider's usage (estimated if absent)."""
    if not completion.choices:
        raise ValueError("the answer has no choices")
    choice = completion.choices[0]
    text = choice.message.content or ""
    if completion.usage is None:
        request.meter.prompt_tokens = estimate_prompt(request)
        request.meter.completion_tokens = 0
        meter_text(request.meter, text)
    calls = [
        ToolCall(call.id, call.function.name, call.function.arguments)
        for call in choice.message.tool_calls or ()
        if isinstance(call, ChatCompletionMessageFunctionToolCall)
    ]
    wanted_logprobs = request.params.logprobs and choice.logprobs is not None
    return GenerationResult(
        text=text,
        finish_reason=finish_reason(choice.finish_reason),
        usage=usage(completion.usage, request.meter),
        logprobs=logprobs(choice.logprobs.content) if wanted_logprobs and choice.logprobs else None,
        tool_calls=calls or None,
    )


@dataclass(slots=True)
class StreamState:
    """Turns chunks into events and remembers how the answer ended."""

    reason: FinishReason | None = None
    reported: CompletionUsage | None = None

    def feed(self, chunk: ChatCompletionChunk) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if chunk.usage is not None:
            self.reported = chunk.usage
        for choice in chunk.choices[:1]:
            delta = choice.delta
            pieces = logprobs(choice.logprobs.content) if choice.logprobs else []
            if delta.content or pieces:
                events.append(TextDelta(delta.content or "", pieces))
            for call in delta.tool_calls or ():
                function = call.function
                events.append(
                    ToolCallDelta(
                        index=call.index,
                        id=call.id,
                        name=function.name if function else None,
                        arguments=(function.arguments or "") if function else "",
                    )
                )
            if choice.finish_reason is not None:
                self.reason = finish_reason(choice.finish_reason)
        return events


def retry_after_s(headers: Any) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
