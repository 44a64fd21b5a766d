"""OpenAI-shaped requests to Anthropic's Messages API, and Anthropic's answers back.

How each part maps (and what has no equivalent):

- System messages, wherever they appear, become the top-level `system` text, joined by blank
  lines. Consecutive turns of the same role are merged into one, as Anthropic requires
  alternating user and assistant turns; tool messages become `tool_result` blocks of a user
  turn, and an assistant's `tool_calls` become `tool_use` blocks. A plain `prompt` is one user
  turn.
- `max_tokens` is required by Anthropic: when the client gives none, corral asks for
  `min(4096, context_length)`.
- `temperature` is clamped to Anthropic's range 0..1 (OpenAI allows up to 2). It and `top_p`
  are sent only when they differ from 1.0, the default of both APIs: the newest Claude models
  take no sampling parameters (they answer 400, which reaches the client as a 400), and older
  ones refuse both at once. `stop` becomes `stop_sequences`.
- `seed` and the presence/frequency penalties have no Anthropic equivalent and are ignored;
  `logprobs` cannot be served and is refused (400).
- Tools become `tools` with `input_schema`; `tool_choice` "auto", "required", "none" and a
  function name become `auto`, `any`, `none` and `tool`.
- JSON mode and JSON schemas: Anthropic has no JSON mode, so corral forces one tool,
  `respond`, whose `input_schema` is the schema (any object for JSON mode), adds a system
  instruction to answer through it, and returns the tool's input as the answer text with
  finish reason "stop". A schema whose top level is not an object is wrapped as the `value`
  property of one and unwrapped again. This cannot be combined with the client's own tools.
  (Anthropic's native structured outputs, `output_config.format`, exist for recent models
  only; the forced tool works with every model that has tools.)
- Answers: text blocks are the text, `tool_use` blocks the tool calls (arguments as JSON text).
  Stop reasons `end_turn`/`stop_sequence`/`pause_turn` map to "stop", `max_tokens` (and a full
  context window) to "length", `tool_use` to "tool_calls", `refusal` to "content_filter".
  Usage `input_tokens` (plus cache reads and writes) and `output_tokens` are the prompt and
  completion tokens billing uses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from anthropic.types import Message, TextBlock, ToolUseBlock
from anthropic.types import Usage as AnthropicUsage

from corral.backends.base import (
    ChatMessage,
    FinishReason,
    GenerationRequest,
    GenerationResult,
    SamplingParams,
    ToolCall,
    Usage,
)
from corral.backends.remote.common import refuse_logit_bias, text_prompt
from corral.errors import InvalidRequest

DEFAULT_MAX_TOKENS = 4096
RESPOND_TOOL = "respond"
JSON_INSTRUCTION = (
    f"Answer only by calling the `{RESPOND_TOOL}` tool, exactly once: its input is your whole "
    "answer, as JSON that matches the tool's input schema."
)
_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


@dataclass(frozen=True, slots=True)
class JsonEmulation:
    """The forced `respond` tool standing in for JSON mode or a JSON schema."""

    input_schema: dict[str, Any]
    wrapped: bool
    """The client's schema is not an object: the answer is the `value` of the tool's input."""

    def answer(self, tool_input: object) -> str:
        if self.wrapped and isinstance(tool_input, dict) and "value" in tool_input:
            return json.dumps(tool_input["value"])
        return json.dumps(tool_input)


@dataclass(frozen=True, slots=True)
class Translated:
    body: dict[str, Any]
    """Keyword arguments of `messages.create`, all but `stream`."""
    json: JsonEmulation | None


def to_anthropic(
    request: GenerationRequest, upstream_model: str, context_length: int
) -> Translated:
    params = request.params
    if params.logprobs:
        raise InvalidRequest("Anthropic models do not return logprobs.", param="logprobs")
    system, turns = _turns(request)
    emulation = _json_emulation(params.json_schema)
    if emulation is not None:
        system.append(JSON_INSTRUCTION)
    body: dict[str, Any] = {
        "model": upstream_model,
        "max_tokens": params.max_tokens or min(DEFAULT_MAX_TOKENS, context_length),
        "messages": turns,
    }
    if system:
        body["system"] = "\n\n".join(system)
    body.update(_sampling(params))
    body.update(_tools(params, emulation))
    return Translated(body, emulation)


# -- messages ------------------------------------------------------------------------------


def _turns(request: GenerationRequest) -> tuple[list[str], list[dict[str, Any]]]:
    """(system texts, alternating user/assistant turns of content blocks)."""
    messages = request.messages
    if messages is None:
        messages = (ChatMessage("user", text_prompt(request)),)
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            system.append(message.content)
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns


def _blocks(message: ChatMessage) -> list[dict[str, Any]]:
    if message.role == "tool":
        if not message.tool_call_id:
            raise InvalidRequest("A tool message needs its tool_call_id.", param="messages")
        return [
            {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.content}
        ]
    # Anthropic refuses empty text blocks; an assistant turn with only tool calls has none.
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": _input(call)})
    return blocks


def _input(call: ToolCall) -> dict[str, Any]:
    try:
        value = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise InvalidRequest(
            f"The arguments of tool call '{call.id}' must be a JSON object.", param="messages"
        )
    return value


# -- parameters ----------------------------------------------------------------------------


def _sampling(params: SamplingParams) -> dict[str, Any]:
    refuse_logit_bias(params, "Anthropic")
    out: dict[str, Any] = {}
    if params.stop:
        out["stop_sequences"] = list(params.stop)
    # The SDK 2.x has no arguments for these any more: they go in the body as they are.
    extra: dict[str, Any] = {}
    temperature = min(max(params.temperature, 0.0), 1.0)
    if temperature != 1.0:
        extra["temperature"] = temperature
    if params.top_p != 1.0:
        extra["top_p"] = params.top_p
    if extra:
        out["extra_body"] = extra
    return out


def _tools(params: SamplingParams, emulation: JsonEmulation | None) -> dict[str, Any]:
    if emulation is not None:
        if params.tools:
            raise InvalidRequest(
                "Anthropic models cannot combine tools with a JSON response_format "
                "(corral emulates JSON output with a tool of its own).",
                param="response_format",
            )
        respond = {
            "name": RESPOND_TOOL,
            "description": "Give the answer, as JSON.",
            "input_schema": emulation.input_schema,
        }
        return {"tools": [respond], "tool_choice": {"type": "tool", "name": RESPOND_TOOL}}
    if not params.tools:
        return {}
    tools = []
    for tool in params.tools:
        schema = dict(tool.parameters or {})
        schema.setdefault("type", "object")
        spec: dict[str, Any] = {"name": tool.name, "input_schema": schema}
        if tool.description:
            spec["description"] = tool.description
        tools.append(spec)
    out: dict[str, Any] = {"tools": tools}
    if params.tool_choice is not None:
        out["tool_choice"] = _tool_choice(params.tool_choice)
    return out


def _tool_choice(choice: str) -> dict[str, str]:
    named = {"auto": "auto", "required": "any", "none": "none"}
    if choice in named:
        return {"type": named[choice]}
    return {"type": "tool", "name": choice}


def _json_emulation(schema: dict[str, Any] | None) -> JsonEmulation | None:
    if schema is None:
        return None
    if not schema:
        return JsonEmulation({"type": "object"}, wrapped=False)
    if schema.get("type") == "object":
        return JsonEmulation(schema, wrapped=False)
    # References such as "#/$defs/x" must still resolve once the schema is nested.
    inner = {k: v for k, v in schema.items() if k not in ("$defs", "definitions")}
    wrapper: dict[str, Any] = {
        "type": "object",
        "properties": {"value": inner},
        "required": ["value"],
    }
    wrapper.update({k: v for k, v in schema.items() if k in ("$defs", "definitions")})
    return JsonEmulation(wrapper, wrapped=True)


# -- answers -------------------------------------------------------------------------------


def finish_reason(stop_reason: str | None, emulated: bool) -> FinishReason:
    reason = _FINISH.get(stop_reason or "end_turn", "stop")
    return "stop" if emulated and reason == "tool_calls" else reason


def usage_of(usage: AnthropicUsage) -> Usage:
    prompt = (
        usage.input_tokens
        + (usage.cache_creation_input_tokens or 0)
        + (usage.cache_read_input_tokens or 0)
    )
    return Usage(prompt, usage.output_tokens)


def from_message(message: Message, emulation: JsonEmulation | None) -> GenerationResult:
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in message.content:
        if isinstance(block, TextBlock) and emulation is None:
            texts.append(block.text)
        elif isinstance(block, ToolUseBlock) and emulation is not None:
            texts.append(emulation.answer(block.input))
        elif isinstance(block, ToolUseBlock):
            calls.append(ToolCall(block.id, block.name, json.dumps(block.input)))
    return GenerationResult(
        text="".join(texts),
        finish_reason=finish_reason(message.stop_reason, emulation is not None),
        usage=usage_of(message.usage),
        tool_calls=calls or None,
    )
