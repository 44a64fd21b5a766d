"""A fake of OpenAI's Chat Completions and Embeddings HTTP API, faithful on the wire.

Run it with `fake.running()` (on loopback); the SDK's `base_url` is `<url>/v1`.

What it does, deterministically:
- Checks `Authorization: Bearer <key>` against its keys (401 `invalid_api_key` otherwise) and
  validates requests the way OpenAI does: unknown parameters, ranges, types, unknown models
  (404 `model_not_found`), `tool_choice` without `tools`, `stream_options` without `stream`,
  JSON mode without the word "json" in the messages; errors come as `{"error": {...}}`.
- Answers by echoing the last user message. Tokens are whitespace-split words: the prompt's are
  the words of all message contents, the completion's the words of the answer. `max_tokens`
  cuts the echo (finish `length`), `stop` strings cut it (finish `stop`).
- After a tool result (last message from `tool`) it answers `Tool said: <result>`.
- With tools (and `tool_choice` not "none"), it calls a tool when `tool_choice` forces one, or
  when the last user message names one: arguments `{"text": <the user's text>}`.
- JSON mode answers `{"echo": <text>}`; a JSON schema gets a minimal instance of the schema.
- Streams are OpenAI's SSE chunks, one per word, then the finish chunk, the usage chunk
  (`stream_options.include_usage`) and `data: [DONE]`.

Faults for the next N requests (`fail_next`): 429 with Retry-After, 500, 503, 400, a hang until
the client gives up, a connection reset mid-answer, a malformed stream, a stream that stalls
midway (`stall`: for `hang_s` after `after_chunks` chunks). Every request is kept
in `received` (path, body, the key it presented) for tests that check what left corral.
`answer_with(body)`, when set, gives a chat answer's text in place of the echo (None: echo),
so a test can play a model that reads what it was sent.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import re
import secrets
import struct
import threading
import time
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Literal

from openai.types.chat.completion_create_params import CompletionCreateParamsBase as _Chat
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.providers.server import serving

KEY = "sk-fake-provider-0123456789abcdef"
CHAT_MODELS = frozenset({"gpt-4o-mini", "gpt-4o"})
EMBEDDING_MODELS = frozenset({"text-embedding-3-small"})
DIMENSIONS = 8
FaultKind = Literal[
    "rate_limit",
    "server_error",
    "unavailable",
    "bad_request",
    "hang",
    "reset",
    "malformed",
    "stall",
]
# The parameters the official SDK can send: anything else is refused, as OpenAI does.
_CHAT_PARAMS = _Chat.__required_keys__ | _Chat.__optional_keys__ | {"stream"}
_RANGES = {
    "temperature": (0, 2),
    "top_p": (0, 1),
    "presence_penalty": (-2, 2),
    "frequency_penalty": (-2, 2),
    "top_logprobs": (0, 20),
}
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})


@dataclass
class Fault:
    kind: FaultKind
    retry_after: str = "1"
    after_chunks: int = 2
    hang_s: float = 10.0
    message: str = "The request was refused."


@dataclass
class Received:
    path: str
    body: Any
    key: str | None
    usage: dict[str, int] | None = None
    """The usage the fake reported for it (None when it failed)."""


class Invalid(Exception):
    """An error answer in OpenAI's envelope."""

    def __init__(
        self,
        message: str,
        param: str | None = None,
        code: str | None = None,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.headers = headers

    def response(self) -> JSONResponse:
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        error = {"message": self.message, "type": kind, "param": self.param, "code": self.code}
        return JSONResponse({"error": error}, status_code=self.status, headers=self.headers)


class _Reset(Exception):
    """Raised mid-body: uvicorn then drops the connection without finishing the answer."""


@dataclass
class OpenAIFake:
    keys: Collection[str] | None = (KEY,)
    """Accepted bearer keys; None accepts any request, like a server without --api-key."""
    received: list[Received] = field(default_factory=list)
    answer_with: Callable[[dict[str, Any]], str | None] | None = None
    _faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
            ]
        )

    def running(self, **options: Any) -> contextlib.AbstractContextManager[str]:
        """Serves the fake on loopback until the block ends; yields its base URL. `options`
        go to `serving` (a certificate and key serve https)."""
        return serving(self.app, **options)

    def fail_next(self, kind: FaultKind, times: int = 1, **options: Any) -> None:
        with self._lock:
            self._faults.extend(Fault(kind, **options) for _ in range(times))

    def bodies(self, path: str = "/v1/chat/completions") -> list[Any]:
        return [r.body for r in self.received if r.path == path]

    def reset(self) -> None:
        """Forget faults and received requests (between tests sharing one running fake)."""
        with self._lock:
            self._faults.clear()
            self.received.clear()

    async def _receive(self, request: Request) -> tuple[dict[str, Any], Received, Fault | None]:
        """Record the request, check its key, then answer a fault that precedes any answer."""
        auth = request.headers.get("authorization", "")
        key = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        received = Received(request.url.path, body, key)
        with self._lock:
            self.received.append(received)
            fault = self._faults.pop(0) if self._faults else None
        if self.keys is not None and key not in self.keys:
            raise _auth_error(key)
        if fault is not None:
            await _early_fault(fault, request)
        if not isinstance(body, dict):
            raise Invalid("We could not parse the JSON body of your request.")
        return body, received, fault

    async def _chat(self, request: Request) -> Response:
        try:
            body, received, fault = await self._receive(request)
            _validate_chat(body)
        except Invalid as exc:
            return exc.response()
        content = self.answer_with(body) if self.answer_with is not None else None
        answer = _answer(body, f"chatcmpl-{secrets.token_hex(12)}", content)
        received.usage = answer["usage"]
        if body.get("stream"):
            return _sse(_chunks(answer, body), fault)
        if fault is not None:  # reset or malformed: the body breaks off
            return _broken_body(answer, fault)
        return JSONResponse(answer)

    async def _embeddings(self, request: Request) -> Response:
        try:
            body, received, _ = await self._receive(request)
            inputs, model = _validate_embeddings(body)
        except Invalid as exc:
            return exc.response()
        tokens = sum(len(text.split()) for text in inputs)
        received.usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        as_base64 = body.get("encoding_format") == "base64"
        data = [
            {"object": "embedding", "index": i, "embedding": _vector(text, as_base64)}
            for i, text in enumerate(inputs)
        ]
        return JSONResponse(
            {"object": "list", "data": data, "model": model, "usage": received.usage}
        )


# -- validation --------------------------------------------------------------------------------


def _auth_error(key: str | None) -> Invalid:
    if key is None:
        return Invalid("You didn't provide an API key.", status=401)
    masked = f"{key[:3]}*****{key[-3:]}" if len(key) > 8 else "*****"
    return Invalid(f"Incorrect API key provided: {masked}.", None, "invalid_api_key", 401)


def _validate_chat(body: dict[str, Any]) -> None:
    for name in body:
        if name not in _CHAT_PARAMS:
            raise Invalid(f"Unrecognized request argument supplied: {name}")
    _require_model(body, CHAT_MODELS)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Invalid("Missing required parameter: 'messages'.", "messages")
    for i, message in enumerate(messages):
        _validate_message(message, f"messages[{i}]")
    _validate_numbers(body)
    _validate_tools(body)
    _validate_format(body, messages)
    if "stream_options" in body and not body.get("stream"):
        raise _bad("stream_options", "only allowed when 'stream' is true")


def _bad(param: str, why: str) -> Invalid:
    return Invalid(f"Invalid value for '{param}': {why}.", param, "invalid_value")


def _require_model(body: dict[str, Any], models: frozenset[str]) -> str:
    model = body.get("model")
    if not isinstance(model, str):
        raise Invalid("Missing required parameter: 'model'.", "model")
    if model not in models:
        message = f"The model `{model}` does not exist or you do not have access to it."
        raise Invalid(message, None, "model_not_found", 404)
    return model


def _validate_message(message: Any, where: str) -> None:
    if not isinstance(message, dict) or message.get("role") not in _ROLES:
        raise _bad(f"{where}.role", "unknown role")
    if message["role"] == "tool" and not message.get("tool_call_id"):
        raise Invalid(f"Missing required parameter: '{where}.tool_call_id'.", where)
    if message.get("content") is None and not message.get("tool_calls"):
        raise Invalid(f"Missing required parameter: '{where}.content'.", where)


def _validate_numbers(body: dict[str, Any]) -> None:
    for name, (low, high) in _RANGES.items():
        value = body.get(name)
        if value is not None and not (isinstance(value, int | float) and low <= value <= high):
            raise _bad(name, f"expected a number from {low} to {high}")
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise _bad(name, "expected an integer >= 1")
    if body.get("top_logprobs") is not None and not body.get("logprobs"):
        raise _bad("top_logprobs", "needs 'logprobs' to be true")
    if body.get("n", 1) != 1:
        raise _bad("n", "this fake answers only n = 1")


def _validate_tools(body: dict[str, Any]) -> None:
    tools = body.get("tools") or []
    names = set()
    for i, tool in enumerate(tools):
        name = (tool.get("function") or {}).get("name", "")
        if tool.get("type") != "function" or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
            raise _bad(f"tools[{i}]", "expected a function with a valid name")
        names.add(name)
    choice = body.get("tool_choice")
    if choice is not None and not tools:
        raise _bad("tool_choice", "'tool_choice' is only allowed when 'tools' are specified")
    named = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    if choice not in (None, "none", "auto", "required") and named not in names:
        raise _bad("tool_choice", "no such tool")


def _validate_format(body: dict[str, Any], messages: list[Any]) -> None:
    fmt = body.get("response_format") or {"type": "text"}
    if fmt.get("type") not in ("text", "json_object", "json_schema"):
        raise _bad("response_format.type", "expected text, json_object or json_schema")
    mentions_json = any("json" in _text(m.get("content")).lower() for m in messages)
    if fmt["type"] == "json_object" and not mentions_json:
        raise Invalid(
            "'messages' must contain the word 'json' in some form, to use 'response_format' of "
            "type 'json_object'.",
            "messages",
            "invalid_value",
        )
    if fmt["type"] == "json_schema" and "schema" not in fmt.get("json_schema", {}):
        raise Invalid("Missing required parameter: 'response_format.json_schema.schema'.")


def _validate_embeddings(body: dict[str, Any]) -> tuple[list[str], str]:
    model = _require_model(body, EMBEDDING_MODELS)
    inputs = body.get("input")
    inputs = [inputs] if isinstance(inputs, str) else inputs
    if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) for t in inputs):
        raise _bad("input", "expected a string or a non-empty array of strings")
    return inputs, model


# -- answers -----------------------------------------------------------------------------------


def _text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def _answer(body: dict[str, Any], completion_id: str, content: str | None = None) -> dict[str, Any]:
    messages = body["messages"]
    message, reason = (_message(content), "stop") if content is not None else _reply(body, messages)
    words = len((message.get("content") or "").split()) + sum(
        len(c["function"]["arguments"].split()) for c in message.get("tool_calls", [])
    )
    prompt = sum(len(_text(m.get("content")).split()) for m in messages)
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": reason}
    if body.get("logprobs") and message.get("content"):
        choice["logprobs"] = {"content": _logprobs(message["content"], body)}
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "system_fingerprint": "fp_fake",
        "choices": [choice],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": words,
            "total_tokens": prompt + words,
        },
    }


def _reply(body: dict[str, Any], messages: list[Any]) -> tuple[dict[str, Any], str]:
    last = messages[-1]
    if last["role"] == "tool":
        return _message(f"Tool said: {_text(last.get('content'))}"), "stop"
    user = next((_text(m.get("content")) for m in reversed(messages) if m["role"] == "user"), "")
    tool = _tool_to_call(body, user if last["role"] == "user" else "")
    if tool is not None:
        call = {
            "id": f"call_{hashlib.sha256(user.encode()).hexdigest()[:12]}",
            "type": "function",
            "function": {"name": tool, "arguments": json.dumps({"text": user})},
        }
        return {**_message(None), "tool_calls": [call]}, "tool_calls"
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_object":
        return _message(json.dumps({"echo": user})), "stop"
    if fmt.get("type") == "json_schema":
        return _message(json.dumps(_instance(fmt["json_schema"]["schema"], user))), "stop"
    text, reason = _cut(user, body)
    return _message(text), reason


def _message(content: str | None) -> dict[str, Any]:
    return {"role": "assistant", "content": content, "refusal": None, "annotations": []}


def _cut(text: str, body: dict[str, Any]) -> tuple[str, str]:
    stops = body.get("stop") or []
    for stop in [stops] if isinstance(stops, str) else stops:
        if stop in text:
            text = text[: text.index(stop)]
    words = re.findall(r"\S+\s*", text)
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if limit is not None and len(words) > limit:
        return "".join(words[:limit]).rstrip(), "length"
    return text, "stop"


def _tool_to_call(body: dict[str, Any], user: str) -> str | None:
    names: list[str] = [t["function"]["name"] for t in body.get("tools") or []]
    choice = body.get("tool_choice", "auto")
    if not names or choice == "none":
        return None
    if isinstance(choice, dict):
        return str(choice["function"]["name"])
    if choice == "required":
        return names[0]
    return next((name for name in names if name in user), None)


def _instance(schema: dict[str, Any], text: str) -> Any:
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {k: _instance(properties[k], text) for k in schema.get("required", properties)}
    defaults = {"string": text, "integer": 0, "number": 0.0, "boolean": False, "array": []}
    return defaults.get(str(kind))


def _logprobs(content: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    def entry(token: str, logprob: float) -> dict[str, Any]:
        return {"token": token, "logprob": logprob, "bytes": list(token.encode())}

    alternatives = body.get("top_logprobs") or 0
    return [
        {
            **entry(piece, -0.25),
            "top_logprobs": [entry(piece, -0.25)][:alternatives]
            + [entry(f"alt{i}", -2.0 - i) for i in range(1, alternatives)],
        }
        for piece in re.findall(r"\S+\s*", content)
    ]


def _vector(text: str, as_base64: bool) -> Any:
    digest = hashlib.sha256(text.encode()).digest()
    values = [(b - 128) / 128 for b in digest[:DIMENSIONS]]
    if as_base64:
        return base64.b64encode(struct.pack(f"<{DIMENSIONS}f", *values)).decode()
    return values


# -- streams and faults ------------------------------------------------------------------------


def _chunks(answer: dict[str, Any], body: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer as OpenAI streams it: role, one chunk per word, finish, usage."""
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    choice = answer["choices"][0]
    message = choice["message"]
    head = {k: answer[k] for k in ("id", "created", "model", "system_fingerprint")}

    def chunk(delta: dict[str, Any], reason: str | None = None, logprobs: Any = None) -> Any:
        out = {**head, "object": "chat.completion.chunk"}
        out["choices"] = [
            {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": reason}
        ]
        return {**out, "usage": None} if include_usage else out

    chunks = [chunk({"role": "assistant", "content": "", "refusal": None})]
    pieces = (choice.get("logprobs") or {}).get("content")
    for i, word in enumerate(re.findall(r"\S+\s*", message["content"] or "")):
        chunks.append(
            chunk({"content": word}, logprobs={"content": [pieces[i]]} if pieces else None)
        )
    for index, call in enumerate(message.get("tool_calls", [])):
        function = {"name": call["function"]["name"], "arguments": ""}
        head_piece = {"index": index, "id": call["id"], "type": "function", "function": function}
        chunks.append(chunk({"tool_calls": [head_piece]}))
        arguments = call["function"]["arguments"]
        for start in range(0, len(arguments), 8):
            piece = {"index": index, "function": {"arguments": arguments[start : start + 8]}}
            chunks.append(chunk({"tool_calls": [piece]}))
    chunks.append(chunk({}, choice["finish_reason"]))
    if include_usage:
        chunks.append(
            {**head, "object": "chat.completion.chunk", "choices": [], "usage": answer["usage"]}
        )
    return chunks


def _sse(chunks: list[dict[str, Any]], fault: Fault | None) -> StreamingResponse:
    async def events() -> AsyncIterator[bytes]:
        for number, chunk in enumerate(chunks):
            if fault is not None and number == fault.after_chunks:
                if fault.kind == "reset":
                    raise _Reset("connection reset by the fake")
                if fault.kind == "stall":
                    await asyncio.sleep(fault.hang_s)
                else:
                    yield b'data: {"id": "chatcmpl-broken", "choices": [\n\n'
            yield f"data: {json.dumps(chunk)}\n\n".encode()
            await asyncio.sleep(0)
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream; charset=utf-8")


def _broken_body(answer: dict[str, Any], fault: Fault) -> Response:
    whole = json.dumps(answer).encode()

    async def body() -> AsyncIterator[bytes]:
        yield whole[: len(whole) // 2]
        if fault.kind == "reset":
            raise _Reset("connection reset by the fake")

    return StreamingResponse(body(), media_type="application/json")


async def _early_fault(fault: Fault, request: Request) -> None:
    """Raise the error answer of a fault that comes before any answer."""
    if fault.kind == "hang":  # until the client gives up (its next message is the disconnect)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(request.receive(), fault.hang_s)
        raise Invalid("The fake hung.", status=504)
    statuses = {
        "rate_limit": (429, "Rate limit reached for requests. Please try again later."),
        "server_error": (500, "The server had an error while processing your request."),
        "unavailable": (503, "The server is overloaded or not ready yet."),
        "bad_request": (400, fault.message),
    }
    if fault.kind in statuses:
        status, message = statuses[fault.kind]
        headers = {"retry-after": fault.retry_after} if fault.kind == "rate_limit" else {}
        raise Invalid(message, status=status, headers=headers)
