"""Pure translation between corral's backend protocol and the Gemini API's shapes (no I/O).

Out: system messages become `systemInstruction`; assistant turns role `model`; an assistant's
tool calls `functionCall` parts; tool messages `functionResponse` parts named after the call
they answer (found by its id earlier in the history); tools `functionDeclarations` with their
JSON schema as `parametersJsonSchema`; `tool_choice` the `functionCallingConfig`; JSON mode
`responseMimeType: application/json` and a schema `responseJsonSchema`.

Back: text parts (thoughts left out) are the answer; `functionCall` parts tool calls with their
own id or a generated one and JSON-text arguments; `finishReason` and `usageMetadata` map to
corral's finish reasons and usage (thinking tokens are billed as output, as Google bills them).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from google.genai import types

from corral.backends.base import (
    ChatMessage,
    FinishReason,
    GenerationRequest,
    SamplingParams,
    ToolCall,
    ToolSpec,
    Usage,
)
from corral.backends.remote.common import refuse_logit_bias, text_prompt
from corral.errors import InvalidRequest

_FINISH_REASONS: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
}
_TOOL_MODES = {
    "auto": types.FunctionCallingConfigMode.AUTO,
    "none": types.FunctionCallingConfigMode.NONE,
    "required": types.FunctionCallingConfigMode.ANY,
}


@dataclass(frozen=True, slots=True)
class Prompt:
    """What goes in `contents`, and the system instruction beside it."""

    contents: list[types.Content]
    system: str | None


@dataclass(frozen=True, slots=True)
class Answer:
    """One response (or one streamed chunk) of the model, in corral's terms."""

    text: str
    tool_calls: list[ToolCall]
    finish: str | None
    """Gemini's finishReason, None until the last chunk."""
    usage: Usage | None


# -- out ---------------------------------------------------------------------------------------


def to_prompt(request: GenerationRequest) -> Prompt:
    if request.messages is None:
        return Prompt([user_text(text_prompt(request))], None)
    system = [m.content for m in request.messages if m.role == "system"]
    names = {call.id: call.name for m in request.messages for call in m.tool_calls}
    contents: list[types.Content] = []
    for message in request.messages:
        if message.role == "system":
            continue
        role, parts = _turn(message, names)
        previous = contents[-1] if contents else None
        if message.role == "tool" and previous is not None and _is_function_responses(previous):
            previous.parts = [*(previous.parts or []), *parts]  # parallel calls: one turn
        else:
            contents.append(_content(role, parts))
    return Prompt(contents, "\n\n".join(system) if system else None)


def user_text(text: str) -> types.Content:
    return _content("user", [types.Part(text=text)])


def _content(role: str, parts: list[types.Part]) -> types.Content:
    return types.Content(role=role, parts=parts)


def _is_function_responses(content: types.Content) -> bool:
    return content.role == "user" and all(p.function_response for p in content.parts or [])


def _turn(message: ChatMessage, names: dict[str, str]) -> tuple[str, list[types.Part]]:
    if message.role == "tool":
        return "user", [_function_response(message, names)]
    if message.role == "assistant":
        parts = [types.Part(text=message.content)] if message.content else []
        parts += [_function_call(call) for call in message.tool_calls]
        return "model", parts or [types.Part(text="")]
    return "user", [types.Part(text=message.content)]


def _function_call(call: ToolCall) -> types.Part:
    try:
        args = json.loads(call.arguments or "{}")
    except ValueError:
        args = None
    if not isinstance(args, dict):
        raise InvalidRequest(
            f"messages: the arguments of tool call '{call.id}' must be a JSON object.",
            param="messages",
        )
    return types.Part(function_call=types.FunctionCall(name=call.name, args=args))


def _function_response(message: ChatMessage, names: dict[str, str]) -> types.Part:
    name = names.get(message.tool_call_id or "")
    if name is None:
        raise InvalidRequest(
            f"messages: the tool message answers tool call '{message.tool_call_id}', which no "
            "earlier assistant message made.",
            param="messages",
        )
    try:
        parsed = json.loads(message.content)
    except ValueError:
        parsed = message.content
    response = parsed if isinstance(parsed, dict) else {"result": parsed}
    return types.Part(function_response=types.FunctionResponse(name=name, response=response))


def to_config(params: SamplingParams, system: str | None) -> types.GenerateContentConfig:
    """The `generationConfig`, tools and tool config of one request."""
    refuse_logit_bias(params, "Gemini")
    schema = params.json_schema
    return types.GenerateContentConfig(
        system_instruction=system,
        temperature=params.temperature,
        top_p=params.top_p,
        max_output_tokens=params.max_tokens,
        stop_sequences=list(params.stop) or None,
        seed=params.seed,
        presence_penalty=params.presence_penalty or None,
        frequency_penalty=params.frequency_penalty or None,
        response_mime_type="application/json" if schema is not None else None,
        response_json_schema=schema or None,
        tools=_tools(params.tools),
        tool_config=_tool_config(params.tool_choice) if params.tools else None,
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        candidate_count=1,
    )


def _tools(specs: Sequence[ToolSpec]) -> list[types.Tool] | None:
    if not specs:
        return None
    declarations = [
        types.FunctionDeclaration(
            name=spec.name,
            description=spec.description,
            parameters_json_schema=spec.parameters or None,
        )
        for spec in specs
    ]
    return [types.Tool(function_declarations=declarations)]


def _tool_config(choice: str | None) -> types.ToolConfig | None:
    if choice is None:
        return None
    mode = _TOOL_MODES.get(choice)
    if mode is not None:
        return types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode=mode))
    forced = types.FunctionCallingConfig(
        mode=types.FunctionCallingConfigMode.ANY, allowed_function_names=[choice]
    )
    return types.ToolConfig(function_calling_config=forced)


# -- back --------------------------------------------------------------------------------------


def from_response(response: types.GenerateContentResponse) -> Answer:
    """The text, calls, finish reason and usage of one response or streamed chunk."""
    candidate = response.candidates[0] if response.candidates else None
    parts = candidate.content.parts if candidate and candidate.content else None
    finish = candidate.finish_reason.value if candidate and candidate.finish_reason else None
    feedback = response.prompt_feedback
    if candidate is None and feedback is not None and feedback.block_reason is not None:
        finish = "SAFETY"  # the prompt itself was blocked: there is no candidate at all
    return Answer(
        text="".join(p.text for p in parts or () if p.text and not p.thought),
        tool_calls=[_tool_call(p.function_call) for p in parts or () if p.function_call],
        finish=finish,
        usage=usage_of(response.usage_metadata),
    )


def _tool_call(call: types.FunctionCall) -> ToolCall:
    return ToolCall(
        id=call.id or f"call_{uuid.uuid4().hex[:24]}",
        name=call.name or "",
        arguments=json.dumps(call.args or {}),
    )


def usage_of(metadata: types.GenerateContentResponseUsageMetadata | None) -> Usage | None:
    if metadata is None or metadata.prompt_token_count is None:
        return None
    prompt = metadata.prompt_token_count + (metadata.tool_use_prompt_token_count or 0)
    completion = (metadata.candidates_token_count or 0) + (metadata.thoughts_token_count or 0)
    return Usage(prompt, completion)


def finish_reason(finish: str | None, called: bool) -> FinishReason:
    """corral's finish reason for Gemini's (`tool_calls` when the model called functions)."""
    reason = _FINISH_REASONS.get(finish or "STOP", "stop")
    return "tool_calls" if reason == "stop" and called else reason


def embedding_values(response: types.EmbedContentResponse, count: int) -> list[list[float]]:
    vectors = [list(e.values or []) for e in response.embeddings or ()]
    if len(vectors) != count or not all(vectors):
        raise ValueError(f"expected {count} embeddings, got {len(vectors)}")
    return vectors


def response_detail(details: Any) -> str:
    """The `message` of a Google error body, or a short form of the body."""
    if isinstance(details, dict):
        error = details.get("error", details)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    return str(details)[:500]
