"""Tool calling for a local model: tools become instructions and a grammar, the answer a call.

A small local model has no native tool format to rely on, so the request's functions are
described in the system message and the answer is held by a grammar to one JSON object:
`{"tool_call": {"name": ..., "arguments": {...}}}`, or, where the model may choose (`auto`),
`{"response": ...}`. The arguments follow each function's own JSON schema, so a call is always
well-formed for the function it names. Earlier calls in the history are shown to the model in
the same JSON it is asked to write, and tool results as user turns (every chat template has
those; not every template knows a `tool` role).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from corral.backends.base import ChatMessage, FinishReason, SamplingParams, ToolCall, ToolSpec
from corral.errors import InvalidRequest

_ANY_OBJECT: dict[str, Any] = {"type": "object"}


@dataclass(frozen=True, slots=True)
class ToolPlan:
    """How one request with tools is asked and answered."""

    schema: dict[str, Any]
    """The JSON schema the answer is held to."""
    instructions: str
    """What the model is told about the functions, before the conversation."""
    response_is_json: bool = False
    """The direct answer is a JSON value (a `response_format` schema), not text."""


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    finish_reason: FinishReason
    tool_calls: list[ToolCall] | None


def plan(params: SamplingParams) -> ToolPlan | None:
    """The plan for a request's tools; None when it has none or `tool_choice` is "none"."""
    if not params.tools or params.tool_choice == "none":
        return None
    choice = params.tool_choice or "auto"
    offered = _offered(params.tools, choice)
    call = {
        "type": "object",
        "properties": {"tool_call": {"anyOf": [_call_schema(t) for t in offered]}},
        "required": ["tool_call"],
    }
    if choice != "auto":
        return ToolPlan(call, _instructions(params.tools, choice))
    response: dict[str, Any] = {"type": "string"}
    if params.json_schema is not None:
        response = params.json_schema or _ANY_OBJECT
    direct = {"type": "object", "properties": {"response": response}, "required": ["response"]}
    return ToolPlan(
        {"anyOf": [call, direct]},
        _instructions(params.tools, choice),
        response_is_json=params.json_schema is not None,
    )


def _offered(tools: Sequence[ToolSpec], choice: str) -> list[ToolSpec]:
    if choice in ("auto", "required"):
        return list(tools)
    named = [t for t in tools if t.name == choice]
    if not named:
        raise InvalidRequest(
            f"Invalid value for 'tool_choice': no function named '{choice}' was specified in "
            "the 'tools' parameter.",
            param="tool_choice",
        )
    return named


def _call_schema(tool: ToolSpec) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"name": {"const": tool.name}, "arguments": tool.parameters or _ANY_OBJECT},
        "required": ["name", "arguments"],
    }


def _instructions(tools: Sequence[ToolSpec], choice: str) -> str:
    lines = ["You can call these functions (each with the JSON schema of its arguments):"]
    for tool in tools:
        about = f": {tool.description}" if tool.description else ""
        schema = json.dumps(tool.parameters or _ANY_OBJECT, ensure_ascii=False)
        lines.append(f"- {tool.name}{about}. Arguments: {schema}")
    lines.append(
        'To call a function, answer with JSON only: {"tool_call": {"name": "<function>", '
        '"arguments": {...}}}.'
    )
    if choice == "auto":
        lines.append(
            'If no function is needed, answer the user with JSON: {"response": "<your answer>"}.'
        )
    elif choice == "required":
        lines.append("You must call one of the functions.")
    else:
        lines.append(f"You must call the function '{choice}'.")
    return "\n".join(lines)


def render(messages: Sequence[ChatMessage], tool_plan: ToolPlan | None) -> list[dict[str, str]]:
    """The messages as a chat template takes them: calls as JSON, results as user turns."""
    names = {call.id: call.name for m in messages for call in m.tool_calls}
    rendered: list[dict[str, str]] = []
    for message in messages:
        if message.role == "tool":
            name = names.get(message.tool_call_id or "", "a function")
            text = f"Result of {name} (call {message.tool_call_id}):\n{message.content}"
            rendered.append({"role": "user", "content": text})
        elif message.tool_calls:
            calls = [_call_json(call) for call in message.tool_calls]
            text = "\n".join([message.content, *calls] if message.content else calls)
            rendered.append({"role": "assistant", "content": text})
        else:
            rendered.append({"role": message.role, "content": message.content})
    if tool_plan is not None:
        _instruct(rendered, tool_plan.instructions)
    return rendered


def _instruct(rendered: list[dict[str, str]], instructions: str) -> None:
    # Into the first system message where there is one: some templates allow only one.
    if rendered and rendered[0]["role"] == "system":
        rendered[0] = {"role": "system", "content": f"{rendered[0]['content']}\n\n{instructions}"}
    else:
        rendered.insert(0, {"role": "system", "content": instructions})


def _call_json(call: ToolCall) -> str:
    try:
        arguments: Any = json.loads(call.arguments)
    except ValueError:
        arguments = call.arguments
    return json.dumps({"tool_call": {"name": call.name, "arguments": arguments}})


def read(text: str, finish_reason: FinishReason, tool_plan: ToolPlan) -> Answer:
    """The model's JSON answer as OpenAI's: a tool call, or the direct response."""
    try:
        answer = json.loads(text)
    except ValueError:
        # Cut short by max_tokens: what was written is all there is.
        return Answer(text, finish_reason, None)
    call = answer.get("tool_call")
    if call is not None:
        arguments = json.dumps(call["arguments"], ensure_ascii=False)
        tool_call = ToolCall(f"call_{secrets.token_hex(12)}", call["name"], arguments)
        return Answer("", "tool_calls", [tool_call])
    response = answer["response"]
    if tool_plan.response_is_json:
        response = json.dumps(response, ensure_ascii=False)
    return Answer(response, finish_reason, None)
