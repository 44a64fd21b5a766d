"""Between corral's backend values and OpenAI's Chat Completions wire format, both ways.

Pure functions and one small stream accumulator: nothing here does I/O, so every mapping is
tested without a server. Parameters left at OpenAI's own defaults are not sent, so servers
that reject a parameter for some models (reasoning models and `temperature`) are not upset.

Answers are read from the decoded JSON as it is, without building the SDK's pydantic objects:
on the gateway's hot path that saves their validation per answer and per stream chunk, and a
worker that serves only remote models never imports the `openai` package (and its memory).
A field of the wrong shape is a `ValueError`, which the backend reports as a malformed answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
from corral.backends.remote.common import meter_text, prompt_token_estimate, text_prompt

_FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


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
        return [{"role": "user", "content": text_prompt(request)}]
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
    if params.logit_bias:
        wire["logit_bias"] = {str(token): bias for token, bias in params.logit_bias}
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


def usage(reported: Any, meter: UsageMeter) -> Usage:
    """The provider's counts (`usage` of an answer), copied to the meter; the meter's
    estimates if none came."""
    if reported is not None:
        counts = _object(reported, "usage")
        meter.prompt_tokens = _count(counts, "prompt_tokens")
        meter.completion_tokens = _count(counts, "completion_tokens")
        details = counts.get("prompt_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        if isinstance(cached, int) and 0 <= cached <= meter.prompt_tokens:  # the provider's cache
            meter.cached_tokens = cached
    return Usage(meter.prompt_tokens, meter.completion_tokens, meter.cached_tokens)


def logprobs(content: Any) -> list[TokenLogprob]:
    """`logprobs.content` of a choice: each token with its alternatives."""
    return [
        TokenLogprob(
            token=_text(item, "token"),
            logprob=_number(item, "logprob"),
            bytes=item.get("bytes") or [],
            top_logprobs=[
                TopLogprob(_text(top, "token"), _number(top, "logprob"), top.get("bytes") or [])
                for top in _objects(item.get("top_logprobs"), "top_logprobs")
            ],
        )
        for item in _objects(content, "logprobs.content")
    ]


def result(completion: Any, request: GenerationRequest) -> GenerationResult:
    """The whole answer; the meter is set from the provider's usage (estimated if absent)."""
    choices = _objects(_object(completion, "answer").get("choices"), "choices")
    if not choices:
        raise ValueError("the answer has no choices")
    choice = choices[0]
    message = _object(choice.get("message"), "message")
    text = message.get("content") or ""
    if not isinstance(text, str):
        raise ValueError("message.content is not text")
    reported = completion.get("usage")
    if reported is None:
        request.meter.prompt_tokens = prompt_token_estimate(request)
        request.meter.completion_tokens = 0
        meter_text(request.meter, text)
    calls = [
        ToolCall(_text(call, "id"), _text(function, "name"), _text(function, "arguments"))
        for call in _objects(message.get("tool_calls"), "tool_calls")
        if call.get("type", "function") == "function"
        for function in [_object(call.get("function"), "function")]
    ]
    wanted = request.params.logprobs and choice.get("logprobs") is not None
    return GenerationResult(
        text=text,
        finish_reason=finish_reason(choice.get("finish_reason")),
        usage=usage(reported, request.meter),
        logprobs=logprobs(_object(choice["logprobs"], "logprobs").get("content"))
        if wanted
        else None,
        tool_calls=calls or None,
    )


def embeddings(answer: Any) -> tuple[list[list[float]], int]:
    """The vectors of an `/embeddings` answer in input order, and its prompt tokens."""
    data = sorted(_objects(_object(answer, "answer").get("data"), "data"), key=_index)
    vectors = []
    for item in data:
        vector = item.get("embedding")
        if not isinstance(vector, list):
            raise ValueError("embedding is not a list of numbers")
        vectors.append(vector)
    return vectors, _count(_object(answer.get("usage"), "usage"), "prompt_tokens")


def _index(item: dict[str, Any]) -> int:
    index = item.get("index")
    if not isinstance(index, int):
        raise ValueError("index is not a number")
    return index


@dataclass(slots=True)
class StreamState:
    """Turns chunks into events and remembers how the answer ended."""

    reason: FinishReason | None = None
    reported: Any = None

    def feed(self, chunk: Any) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        chunk = _object(chunk, "chunk")
        if chunk.get("usage") is not None:
            self.reported = chunk["usage"]
        for choice in _objects(chunk.get("choices"), "choices")[:1]:
            delta = _object(choice.get("delta") or {}, "delta")
            content = delta.get("content") or ""
            pieces = []
            if choice.get("logprobs"):
                pieces = logprobs(_object(choice["logprobs"], "logprobs").get("content"))
            if content or pieces:
                events.append(TextDelta(content, pieces))
            events.extend(
                _tool_call_delta(call) for call in _objects(delta.get("tool_calls"), "tool_calls")
            )
            if choice.get("finish_reason") is not None:
                self.reason = finish_reason(choice["finish_reason"])
        return events


def _tool_call_delta(call: dict[str, Any]) -> ToolCallDelta:
    function = _object(call.get("function") or {}, "function")
    index = call.get("index", 0)
    if not isinstance(index, int):
        raise ValueError("tool_calls.index is not a number")
    return ToolCallDelta(
        index=index,
        id=call.get("id"),
        name=function.get("name"),
        arguments=function.get("arguments") or "",
    )


# The wire's shapes, checked where they are read: anything else is a malformed answer.


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not an object")
    return value


def _objects(value: Any, what: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ValueError(f"{what} is not a list of objects")
    return value


def _text(value: dict[str, Any], name: str) -> str:
    field = value.get(name)
    if not isinstance(field, str):
        raise ValueError(f"{name} is not text")
    return field


def _number(value: dict[str, Any], name: str) -> float:
    field = value.get(name)
    if not isinstance(field, int | float) or isinstance(field, bool):
        raise ValueError(f"{name} is not a number")
    return float(field)


def _count(value: dict[str, Any], name: str) -> int:
    field = value.get(name)
    if not isinstance(field, int) or isinstance(field, bool) or field < 0:
        raise ValueError(f"usage.{name} is not a count")
    return field
