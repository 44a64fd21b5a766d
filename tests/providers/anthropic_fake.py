"""A fake of Anthropic's `POST /v1/messages`, faithful on the wire, deterministic in content.

Serve it on loopback with `AnthropicFake().running()`. It checks the key
(`x-api-key`, or `Authorization: Bearer` as the SDK 2.x sends it) and the `anthropic-version`
header, validates the body as the real API does (its error body
`{"type": "error", "error": {"type", "message"}}`, its status codes), and answers with
Anthropic's exact message shape or SSE events (`event:` and `data:` lines). It is stricter
than the real API in one point: turns must alternate (the rule the backend must meet).

What it answers:
- a turn that ends with `tool_result`s: "tool said: " and the results' text;
- with tools, when `tool_choice` is `any` or `tool`, or `auto` and the last user text names a
  tool: a `tool_use` of that tool (or the first), its input built from the schema (strings are
  the last user text, numbers its word count, booleans true);
- otherwise the last user text, echoed: cut at the first stop sequence it contains
  (`stop_sequence`) or at `max_tokens` words (`max_tokens`), else `end_turn`.
Tokens are words: input tokens are the words of the system text, the messages and the tools;
output tokens the words of the answer text plus those of each tool input's JSON.
`max_tokens` above 8192 is refused, as the real API does for small models.

Every request body is recorded in `requests`, every answer in `answers`;
`fail_next(Fault(...))` makes the next request fail in one of the ways a provider fails.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.providers.server import serving

API_KEY = "sk-ant-fake-0123456789abcdef"
MAX_OUTPUT_TOKENS = 8192
_TOP_FIELDS = {
    "model", "max_tokens", "messages", "system", "temperature", "top_p", "top_k",
    "stop_sequences", "stream", "tools", "tool_choice", "metadata", "service_tier", "thinking",
}  # fmt: skip
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")


class FakeReset(Exception):
    """Raised inside a streaming response: the server drops the connection mid-body."""


class Invalid(Exception):
    def __init__(self, message: str, status: int = 400, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.message, self.status, self.kind = message, status, kind


@dataclass(frozen=True)
class Fault:
    """How the next request fails. `status`: an error answer (with `retry_after` if given);
    `hang_s`: no answer for that long (until the client leaves); `reset_after`: a stream that is
    cut after this many events; `malformed_after`: a stream with a broken `data:` line after
    that many events; `end_after`: a stream that ends cleanly there, without `message_stop`;
    `error_event_after`: a stream with an `overloaded_error` event."""

    status: int | None = None
    kind: str = "api_error"
    message: str = "Internal server error"
    retry_after: str | None = None
    hang_s: float = 0.0
    hang_after: int | None = None
    reset_after: int | None = None
    malformed_after: int | None = None
    end_after: int | None = None
    error_event_after: int | None = None


class AnthropicFake:
    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.answers: list[dict[str, Any]] = []
        """Every message answered (streamed or not), with its `usage`."""
        self.disconnects = 0
        """Requests whose client left before the answer was complete."""
        self._faults: list[Fault] = []
        self.app = Starlette(routes=[Route("/v1/messages", self._messages, methods=["POST"])])

    def reset(self) -> None:
        """Forget what earlier tests sent and planned (one fake can serve a whole module)."""
        self.requests.clear()
        self.headers.clear()
        self.answers.clear()
        self.disconnects = 0
        self._faults.clear()

    def running(self) -> AbstractContextManager[str]:
        """Serves the fake on loopback until the block ends; yields its base URL."""
        return serving(self.app)

    def fail_next(self, *faults: Fault) -> None:
        self._faults.extend(faults)

    # -- the endpoint --------------------------------------------------------------------------

    async def _messages(self, request: Request) -> Response:
        self.headers.append(dict(request.headers))
        try:
            body = _check_headers_and_parse(request, await request.body(), self.api_key)
            self.requests.append(body)
            validate(body)
        except Invalid as exc:
            return error_response(exc.status, exc.kind, exc.message)
        fault = self._faults.pop(0) if self._faults else Fault()
        if fault.hang_s and fault.hang_after is None:
            await self._hang(request, fault.hang_s)
        if fault.status is not None:
            headers = {"retry-after": fault.retry_after} if fault.retry_after else None
            return error_response(fault.status, fault.kind, fault.message, headers)
        message = answer(body)
        self.answers.append(message)
        if body.get("stream"):
            events = self._events(message, fault)
            return StreamingResponse(events, media_type="text/event-stream")
        return JSONResponse(message, headers={"request-id": "req_fake"})

    async def _hang(self, request: Request, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            if await request.is_disconnected():
                self.disconnects += 1
                return
            await asyncio.sleep(0.02)

    async def _events(self, message: dict[str, Any], fault: Fault) -> AsyncIterator[str]:
        try:
            for number, chunk in enumerate(sse_events(message)):
                if number == fault.hang_after:
                    await asyncio.sleep(fault.hang_s)
                if number == fault.reset_after:
                    raise FakeReset("connection reset by the fake")
                if number == fault.end_after:
                    return
                if number == fault.malformed_after:
                    yield "event: content_block_delta\ndata: {not json\n\n"
                    return
                if number == fault.error_event_after:
                    yield sse("error", error={"type": "overloaded_error", "message": "Overloaded"})
                    return
                yield chunk
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            self.disconnects += 1
            raise


def error_response(
    status: int, kind: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def _check_headers_and_parse(request: Request, raw: bytes, api_key: str) -> dict[str, Any]:
    # The key comes as `x-api-key`, or as a bearer token (what the SDK 2.x sends).
    bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
    if api_key not in (request.headers.get("x-api-key"), bearer):
        raise Invalid("invalid x-api-key", 401, "authentication_error")
    if not request.headers.get("anthropic-version"):
        raise Invalid("anthropic-version: header is required")
    try:
        body = json.loads(raw)
    except json.JSONDecodeError:
        raise Invalid("There was an issue with your request body: not valid JSON") from None
    if not isinstance(body, dict):
        raise Invalid("The request body must be a JSON object")
    return body


# -- validation, as the real API answers ---------------------------------------------------------


def validate(body: dict[str, Any]) -> None:
    for field in body:
        if field not in _TOP_FIELDS:
            raise Invalid(f"{field}: Extra inputs are not permitted")
    for field in ("model", "max_tokens", "messages"):
        if field not in body:
            raise Invalid(f"{field}: Field required")
    max_tokens = body["max_tokens"]
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise Invalid("max_tokens: Input should be greater than or equal to 1")
    if max_tokens > MAX_OUTPUT_TOKENS:
        raise Invalid(
            f"max_tokens: {max_tokens} > {MAX_OUTPUT_TOKENS}, which is the maximum allowed "
            f"number of output tokens for {body['model']}"
        )
    for field in ("temperature", "top_p"):
        if field in body and not 0 <= body[field] <= 1:
            raise Invalid(f"{field}: Input should be less than or equal to 1")
    for stop in body.get("stop_sequences", []):
        if not stop.strip():
            raise Invalid("stop_sequences: each stop sequence must contain non-whitespace")
    _validate_tools(body)
    _validate_messages(body["messages"])


def _validate_tools(body: dict[str, Any]) -> None:
    names = []
    for i, tool in enumerate(body.get("tools", [])):
        if not _TOOL_NAME.match(str(tool.get("name", ""))):
            raise Invalid(f"tools.{i}.name: String should match pattern '{_TOOL_NAME.pattern}'")
        if tool.get("input_schema", {}).get("type") != "object":
            raise Invalid(f"tools.{i}.input_schema.type: Input should be 'object'")
        names.append(tool["name"])
    if len(set(names)) != len(names):
        raise Invalid("tools: Tool names must be unique.")
    choice = body.get("tool_choice")
    if choice is None:
        return
    if not names:
        raise Invalid("tool_choice: tool_choice may only be specified while providing tools.")
    if choice.get("type") not in ("auto", "any", "tool", "none"):
        raise Invalid("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
    if choice["type"] == "tool" and choice.get("name") not in names:
        raise Invalid(f"tool_choice.name: Tool '{choice.get('name')}' not found in tools")


def _validate_messages(messages: list[dict[str, Any]]) -> None:
    if not messages:
        raise Invalid("messages: at least one message is required")
    if messages[0].get("role") != "user":
        raise Invalid('messages: first message must use the "user" role')
    previous: dict[str, Any] | None = None
    for i, message in enumerate(messages):
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise Invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if previous is not None and previous["role"] == role:
            raise Invalid(
                'messages: roles must alternate between "user" and "assistant", but found '
                f'multiple "{role}" roles in a row'
            )
        blocks = content_blocks(message)
        if not blocks and i != len(messages) - 1:
            raise Invalid(f"messages.{i}: all messages must have non-empty content")
        for j, block in enumerate(blocks):
            _validate_block(f"messages.{i}.content.{j}", role, block, previous)
        previous = message


def _validate_block(
    where: str, role: str, block: dict[str, Any], previous: dict[str, Any] | None
) -> None:
    kind = block.get("type")
    if kind == "text" and not block.get("text"):
        raise Invalid(f"{where}.text: text content blocks must be non-empty")
    if kind == "tool_use" and (role != "assistant" or not isinstance(block.get("input"), dict)):
        raise Invalid(f"{where}: tool_use blocks belong to assistant turns, input an object")
    if kind == "tool_result":
        earlier = {b.get("id") for b in content_blocks(previous or {}) if b["type"] == "tool_use"}
        if role != "user" or block.get("tool_use_id") not in earlier:
            raise Invalid(
                f"{where}: unexpected `tool_use_id` found in `tool_result` blocks: "
                f"{block.get('tool_use_id')}. Each `tool_result` block must have a "
                "corresponding `tool_use` block in the previous message."
            )
    if kind not in ("text", "tool_use", "tool_result"):
        raise Invalid(f"{where}.type: Input tag '{kind}' is not supported here")


def content_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content", [])
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


# -- answers ----------------------------------------------------------------------------------


def answer(body: dict[str, Any]) -> dict[str, Any]:
    last = body["messages"][-1]
    results = [b for b in content_blocks(last) if b["type"] == "tool_result"]
    said = " ".join(b["text"] for b in content_blocks(last) if b["type"] == "text")
    tool, forced = _chosen_tool(body, said)
    if results:
        blocks, stop, sequence = _text_reply("tool said: " + " ".join(map(_result_text, results)))
    elif tool is not None:
        use = {"type": "tool_use", "id": f"toolu_fake{len(said)}", "name": tool["name"]}
        use["input"] = fill(tool["input_schema"], said)
        intro = [] if forced else [{"type": "text", "text": f"Let me use {tool['name']}."}]
        blocks, stop, sequence = [*intro, use], "tool_use", None
    else:
        blocks, stop, sequence = _echo(said, body.get("stop_sequences", []), body["max_tokens"])
    return {
        "id": "msg_fake01",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": sequence,
        "usage": {"input_tokens": input_tokens(body), "output_tokens": output_tokens(blocks)},
    }


def _chosen_tool(body: dict[str, Any], said: str) -> tuple[dict[str, Any] | None, bool]:
    tools = body.get("tools", [])
    choice = body.get("tool_choice", {"type": "auto"})
    if not tools or choice["type"] == "none":
        return None, False
    if choice["type"] == "tool":
        return next(t for t in tools if t["name"] == choice["name"]), True
    if choice["type"] == "any":
        return tools[0], True
    named = [t for t in tools if t["name"] in said]
    return (named[0] if named else None), False


def _text_reply(text: str) -> tuple[list[dict[str, Any]], str, str | None]:
    return [{"type": "text", "text": text}], "end_turn", None


def _echo(
    said: str, stops: list[str], max_tokens: int
) -> tuple[list[dict[str, Any]], str, str | None]:
    found = [(said.index(s), s) for s in stops if s in said]
    if found:
        cut, sequence = min(found)
        return [{"type": "text", "text": said[:cut]}], "stop_sequence", sequence
    words = said.split()
    if len(words) > max_tokens:
        return [{"type": "text", "text": " ".join(words[:max_tokens])}], "max_tokens", None
    return _text_reply(said or "(nothing)")


def _result_text(block: dict[str, Any]) -> str:
    content = block.get("content", "")
    if isinstance(content, str):
        return content
    return " ".join(part.get("text", "") for part in content)


def fill(schema: dict[str, Any], text: str) -> Any:
    """A value of `schema` built from `text`."""
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {"text": {"type": "string"}}
        return {name: fill(sub, text) for name, sub in properties.items()}
    if kind == "array":
        return [fill(schema.get("items", {}), text)]
    return {"string": text, "integer": len(text.split()), "number": len(text.split())}.get(
        str(kind), True if kind == "boolean" else None
    )


def words(text: str) -> int:
    return len(text.split())


def input_tokens(body: dict[str, Any]) -> int:
    system = body.get("system", "")
    total = words(system if isinstance(system, str) else json.dumps(system))
    for message in body["messages"]:
        for block in content_blocks(message):
            if block["type"] == "text":
                total += words(block["text"])
            elif block["type"] == "tool_use":
                total += words(json.dumps(block["input"]))
            else:
                total += words(_result_text(block))
    return total + (words(json.dumps(body["tools"])) if body.get("tools") else 0)


def output_tokens(blocks: list[dict[str, Any]]) -> int:
    return sum(
        words(b["text"]) if b["type"] == "text" else words(json.dumps(b["input"])) for b in blocks
    )


# -- SSE ----------------------------------------------------------------------------------------


def sse(kind: str, **fields: Any) -> str:
    """One event as the real API writes it: its type in `event:` and in the JSON of `data:`."""
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields})}\n\n"


def sse_events(message: dict[str, Any]) -> list[str]:
    """The stream the real API sends for `message`, event by event."""
    usage = {"input_tokens": message["usage"]["input_tokens"], "output_tokens": 1}
    start = dict(message, content=[], stop_reason=None, stop_sequence=None, usage=usage)
    out = [sse("message_start", message=start), sse("ping")]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            opening: dict[str, Any] = {"type": "text", "text": ""}
            pieces = re.findall(r"\S+\s*|\s+", block["text"])
            deltas = [{"type": "text_delta", "text": piece} for piece in pieces]
        else:
            opening = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            text = json.dumps(block["input"])
            pieces = ["", *(text[i : i + 10] for i in range(0, len(text), 10))]
            deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in pieces]
        out.append(sse("content_block_start", index=index, content_block=opening))
        out += [sse("content_block_delta", index=index, delta=delta) for delta in deltas]
        out.append(sse("content_block_stop", index=index))
    reason = {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]}
    final = {"output_tokens": message["usage"]["output_tokens"]}
    out += [sse("message_delta", delta=reason, usage=final), sse("message_stop")]
    return out
