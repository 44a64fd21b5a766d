"""Items of the Responses API, to and from the pipeline's chat messages and results."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from typing import Any

from corral.backends.base import ChatMessage, GenerationResult, ToolCall, Usage
from corral.errors import InvalidRequest

Item = dict[str, Any]
_ROLES = {"developer": "system"}
_MEDIA = {"input_image": "image", "input_audio": "audio", "input_file": "file"}


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(16)}"


def input_items(model: str, given: str | list[Item]) -> list[Item]:
    """The request's input as stored items, each with an id (as `input_items` lists them)."""
    if isinstance(given, str):
        given = [{"type": "message", "role": "user", "content": given}]
    return [_input_item(model, index, item) for index, item in enumerate(given)]


def _input_item(model: str, index: int, item: Item) -> Item:
    kind = item.get("type", "message")
    if kind == "item_reference":
        raise InvalidRequest(
            "Input items of type 'item_reference' are not supported; send the item itself, "
            "or continue a stored response with 'previous_response_id'.",
            param=f"input[{index}]",
        )
    if kind == "function_call":
        return {**item, "id": item.get("id") or new_id("fc"), "status": "completed"}
    if kind == "function_call_output":
        return {**item, "id": item.get("id") or new_id("fco"), "status": "completed"}
    content = item["content"]
    if isinstance(content, str):
        part_type = "output_text" if item["role"] == "assistant" else "input_text"
        content = [{"type": part_type, "text": content}]
    for part in content:
        media = _MEDIA.get(part["type"])
        if media is not None:
            raise InvalidRequest(
                f"Model '{model}' takes no {media} input; send text only.",
                param=f"input[{index}].content",
            )
    return {
        "type": "message",
        "id": item.get("id") or new_id("msg"),
        "status": "completed",
        "role": item["role"],
        "content": content,
    }


def chat_messages(instructions: str | None, items: Iterable[Item]) -> tuple[ChatMessage, ...]:
    """What the model reads: the instructions, then every item in order."""
    messages = [ChatMessage("system", instructions)] if instructions else []
    for item in items:
        kind = item["type"]
        if kind == "function_call":
            call = ToolCall(item["call_id"], item["name"], item["arguments"])
            messages.append(ChatMessage("assistant", "", (call,)))
        elif kind == "function_call_output":
            messages.append(ChatMessage("tool", item["output"], tool_call_id=item["call_id"]))
        elif kind == "message":
            text = "".join(p.get("text", "") for p in item["content"] if p["type"] != "refusal")
            role = _ROLES.get(item["role"], item["role"])
            messages.append(ChatMessage(role, text))  # type: ignore[arg-type]
    return tuple(messages)


def message_item(text: str, status: str = "completed", item_id: str | None = None) -> Item:
    return {
        "type": "message",
        "id": item_id or new_id("msg"),
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def call_item(call: ToolCall, status: str = "completed", item_id: str | None = None) -> Item:
    return {
        "type": "function_call",
        "id": item_id or new_id("fc"),
        "call_id": call.id,
        "name": call.name,
        "arguments": call.arguments,
        "status": status,
    }


def output_items(result: GenerationResult) -> list[Item]:
    items = [message_item(result.text)] if result.text or not result.tool_calls else []
    return items + [call_item(call) for call in result.tool_calls or []]


def usage_out(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.total_tokens,
    }


def response_object(
    response_id: str,
    model: str,
    settings: dict[str, Any],
    output: list[Item],
    usage: Usage | None,
    finish_reason: str | None,
) -> dict[str, Any]:
    """The `response` object; `finish_reason` None means still in progress."""
    status, incomplete = "in_progress", None
    if finish_reason == "length":
        status, incomplete = "incomplete", {"reason": "max_output_tokens"}
    elif finish_reason == "content_filter":
        status, incomplete = "incomplete", {"reason": "content_filter"}
    elif finish_reason is not None:
        status = "completed"
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": incomplete,
        "model": model,
        "output": output,
        "usage": usage_out(usage) if usage is not None else None,
        **settings,
    }
