"""A fake of the Gemini REST API (v1beta), faithful enough to drive the official SDK.

Endpoints: `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent` (SSE with
`?alt=sse`, one `data: {GenerateContentResponse}` event per chunk), `:embedContent` and
`:batchEmbedContents`. The key comes in `x-goog-api-key` or `?key=`; errors use Google's body
`{"error": {"code", "message", "status"}}`. Every request body is recorded in `requests`.

Deterministic behaviour (tokens are words):
- The answer echoes the last user text: `Echo: <text>`; with `responseMimeType:
  application/json` it is `{"echo": "<text>"}`.
- With function declarations: mode ANY calls the first allowed function, AUTO calls the first
  one whose name occurs in the last user text, NONE never calls. A string parameter receives the
  user text, a number the count of its words, a boolean `true`.
- A last turn of function responses is answered `<name> returned <response JSON>`.
- `maxOutputTokens` cuts the answer to that many words (MAX_TOKENS); a stop sequence cuts it
  before the sequence; a user text containing `BLOCKME` ends with SAFETY and no content.
- Streamed answers come one word per chunk; every chunk carries `usageMetadata`.

Faults are queued per test with `fail_next`, one per request, oldest first.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.providers.server import serving

FAKE_KEY = "fake-gemini-key-0123456789"
EMBEDDING_DIMENSIONS = 8
HANG_LIMIT_S = 30.0
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_REQUEST_FIELDS = {
    "contents", "systemInstruction", "generationConfig", "tools", "toolConfig",
    "safetySettings", "cachedContent",
}  # fmt: skip
_CONFIG_FIELDS = {
    "temperature", "topP", "topK", "maxOutputTokens", "stopSequences", "responseMimeType",
    "responseSchema", "responseJsonSchema", "candidateCount", "seed", "presencePenalty",
    "frequencyPenalty", "responseLogprobs", "logprobs", "thinkingConfig",
}  # fmt: skip

FaultKind = Literal["error", "hang", "reset", "malformed", "truncated"]


@dataclass(frozen=True, slots=True)
class Fault:
    """What goes wrong with one request; stream faults strike after `after_chunks` chunks."""

    kind: FaultKind
    status: int = 500
    retry_after_s: int | None = None
    after_chunks: int = 1

    @classmethod
    def error(cls, status: int, retry_after_s: int | None = None) -> Fault:
        return cls("error", status=status, retry_after_s=retry_after_s)

    @classmethod
    def hang(cls, after_chunks: int = 0) -> Fault:
        return cls("hang", after_chunks=after_chunks)

    @classmethod
    def reset(cls, after_chunks: int = 1) -> Fault:
        """Drop the connection (mid-stream, or before any answer)."""
        return cls("reset", after_chunks=after_chunks)

    @classmethod
    def malformed(cls, after_chunks: int = 1) -> Fault:
        return cls("malformed", after_chunks=after_chunks)

    @classmethod
    def truncated(cls, after_chunks: int = 1) -> Fault:
        """End the stream cleanly but without a finishReason."""
        return cls("truncated", after_chunks=after_chunks)


@dataclass(frozen=True, slots=True)
class Recorded:
    model: str
    action: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]


class _Dropped(Exception):
    """Raised inside the app to make the server drop the connection."""


class GeminiFake:
    """The fake provider; `running()` serves it on loopback and yields its base URL."""

    def __init__(self, key: str = FAKE_KEY, chunk_delay_s: float = 0.0) -> None:
        self.key = key
        self.chunk_delay_s = chunk_delay_s
        self.requests: list[Recorded] = []
        self._faults: deque[Fault] = deque()
        self._closing = threading.Event()
        self.app = Starlette(
            routes=[Route("/v1beta/models/{target:path}", self._handle, methods=["POST"])]
        )

    def fail_next(self, *faults: Fault) -> None:
        self._faults.extend(faults)

    def reset(self) -> None:
        """Forget recorded requests, queued faults and any delay (between tests)."""
        self.requests.clear()
        self._faults.clear()
        self.chunk_delay_s = 0.0

    @contextmanager
    def running(self) -> Iterator[str]:
        with serving(self.app) as url:
            try:
                yield url
            finally:
                self._closing.set()  # ends any hanging request so the server can stop

    # -- HTTP --------------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        model, _, action = request.path_params["target"].partition(":")
        refused = self._refuse_key(request)
        if refused is not None:
            return refused
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "Invalid JSON payload received.")
        self.requests.append(
            Recorded(model, action, dict(request.query_params), dict(request.headers), body)
        )
        fault = self._faults.popleft() if self._faults else None
        if fault is not None and (fault.kind == "error" or fault.after_chunks == 0):
            return await self._fail_at_once(request, fault)
        if action in ("embedContent", "batchEmbedContents"):
            return JSONResponse(_embeddings(action, body))
        invalid = _invalid(body)
        if invalid is not None:
            return _error(400, invalid)
        if action == "generateContent":
            return JSONResponse(_whole_answer(model, body))
        if action == "streamGenerateContent" and request.query_params.get("alt") == "sse":
            events = self._events(model, body, fault)
            return StreamingResponse(events, media_type="text/event-stream")
        return _error(404, f"Method {action} is not found for models/{model}.")

    def _refuse_key(self, request: Request) -> Response | None:
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not key:
            return _error(
                403,
                "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity.",
            )
        if key != self.key:
            reason = {"@type": "type.googleapis.com/google.rpc.ErrorInfo"}
            reason |= {"reason": "API_KEY_INVALID", "domain": "googleapis.com"}
            return _error(400, "API key not valid. Please pass a valid API key.", [reason])
        return None

    async def _fail_at_once(self, request: Request, fault: Fault) -> Response:
        if fault.kind == "hang":
            await self._hang(request)
            return _error(504, "Deadline exceeded.")
        if fault.kind == "reset":  # the status line goes out, then the connection drops
            return StreamingResponse(self._strike(fault), media_type="application/json")
        if fault.kind == "malformed":
            return Response(b'{"candidates": [', media_type="application/json")
        details: list[dict[str, Any]] = []
        headers: dict[str, str] = {}
        if fault.retry_after_s is not None:
            delay = {"@type": "type.googleapis.com/google.rpc.RetryInfo"}
            details.append(delay | {"retryDelay": f"{fault.retry_after_s}s"})
            headers["Retry-After"] = str(fault.retry_after_s)
        message = "Resource has been exhausted (e.g. check quota)."
        if fault.status != 429:
            message = f"The fake failed as asked (HTTP {fault.status})."
        return _error(fault.status, message, details, headers)

    async def _hang(self, request: Request | None) -> None:
        deadline = time.monotonic() + HANG_LIMIT_S
        while not self._closing.is_set() and time.monotonic() < deadline:
            if request is not None and await request.is_disconnected():
                return
            await asyncio.sleep(0.05)

    async def _events(self, model: str, body: Any, fault: Fault | None) -> AsyncIterator[bytes]:
        chunks = _stream_chunks(model, body)
        for number, chunk in enumerate(chunks):
            if fault is not None and number == fault.after_chunks:
                async for tail in self._strike(fault):
                    yield tail
                return
            if number and self.chunk_delay_s:
                await asyncio.sleep(self.chunk_delay_s)
            yield b"data: " + json.dumps(chunk).encode() + b"\r\n\r\n"

    async def _strike(self, fault: Fault) -> AsyncIterator[bytes]:
        if fault.kind == "malformed":
            yield b'data: {"candidates": [{"content": \r\n\r\n'
        elif fault.kind == "reset":
            raise _Dropped("connection reset by the fake")
        elif fault.kind == "hang":
            await self._hang(None)


def _error(
    status: int,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Google's error body: `{"error": {"code", "message", "status", "details"?}}`."""
    error = {"code": status, "message": message, "status": _STATUS_NAMES.get(status, "UNKNOWN")}
    body = {"error": error | ({"details": details} if details else {})}
    return JSONResponse(body, status_code=status, headers=headers)


# -- the model's behaviour --------------------------------------------------------------------


def _camel(name: str) -> str:
    """Google's JSON parser takes proto field names (`max_output_tokens`) as well as camelCase."""
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def _field(message: dict[str, Any], camel: str) -> Any:
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return message.get(camel, message.get(snake))


def _invalid(body: Any) -> str | None:
    config = body.get("generationConfig", {})
    unknown = {_camel(k) for k in body} - _REQUEST_FIELDS or {
        _camel(k) for k in config
    } - _CONFIG_FIELDS
    if unknown:
        return f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}".'
    contents = body.get("contents")
    if not contents:
        return "* GenerateContentRequest.contents: contents is not specified"
    for content in contents:
        if content.get("role") not in ("user", "model") or not content.get("parts"):
            return "* GenerateContentRequest.contents: each needs role user|model and parts"
        for part in content["parts"]:
            if len(set(part) & {"text", "functionCall", "functionResponse"}) != 1:
                return "* GenerateContentRequest.contents.parts: exactly one data field"
    return None


def _words(value: Any) -> int:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return len(text.split())


def _prompt_tokens(body: Any) -> int:
    contents = list(body["contents"])
    if "systemInstruction" in body:
        contents.append(body["systemInstruction"])
    return sum(_words(next(iter(p.values()))) for c in contents for p in c["parts"])


def _last_user_text(body: Any) -> str:
    parts = body["contents"][-1]["parts"]
    return " ".join(p["text"] for p in parts if "text" in p)


def _answer(body: Any) -> tuple[list[dict[str, Any]], str]:
    """The model's parts and finishReason."""
    last = body["contents"][-1]["parts"]
    results = [p["functionResponse"] for p in last if "functionResponse" in p]
    user_text = _last_user_text(body)
    if results:
        text = "; ".join(
            f"{r['name']} returned {json.dumps(r['response'], sort_keys=True)}" for r in results
        )
    elif (call := _function_call(body, user_text)) is not None:
        return [{"functionCall": call}], "STOP"
    elif "BLOCKME" in user_text:
        return [], "SAFETY"
    elif body.get("generationConfig", {}).get("responseMimeType") == "application/json":
        text = json.dumps({"echo": user_text})
    else:
        text = f"Echo: {user_text}"
    return _limited(text, body.get("generationConfig", {}))


def _limited(text: str, config: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    for stop in config.get("stopSequences", []):
        text = text.split(stop, 1)[0]
    limit = config.get("maxOutputTokens")
    words = text.split(" ")
    if limit is not None and len(text.split()) > limit:
        return [{"text": " ".join(words[:limit])}], "MAX_TOKENS"
    return [{"text": text}], "STOP"


def _function_call(body: Any, user_text: str) -> dict[str, Any] | None:
    declared = [d for tool in body.get("tools", []) for d in tool.get("functionDeclarations", [])]
    calling = body.get("toolConfig", {}).get("functionCallingConfig", {})
    mode = calling.get("mode", "AUTO")
    allowed = calling.get("allowedFunctionNames") or [d["name"] for d in declared]
    candidates = [d for d in declared if d["name"] in allowed]
    if not candidates or mode == "NONE":
        return None
    named = [d for d in candidates if d["name"] in user_text]
    if mode == "AUTO" and not named:
        return None
    chosen = (named or candidates)[0]
    schema = _field(chosen, "parametersJsonSchema") or chosen.get("parameters") or {}
    args: dict[str, Any] = {}
    for name, spec in schema.get("properties", {}).items():
        kind = str(spec.get("type", "")).lower()
        if kind == "string":
            args[name] = user_text
        elif kind in ("number", "integer"):
            args[name] = len(user_text.split())
        elif kind == "boolean":
            args[name] = True
    return {"name": chosen["name"], "args": args}


def _usage(body: Any, parts: list[dict[str, Any]]) -> dict[str, int]:
    prompt = _prompt_tokens(body)
    answer = sum(_words(next(iter(p.values()))) for p in parts)
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": answer,
        "totalTokenCount": prompt + answer,
    }


def _candidate(parts: list[dict[str, Any]], finish: str | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"index": 0}
    if parts:
        candidate["content"] = {"role": "model", "parts": parts}
    if finish is not None:
        candidate["finishReason"] = finish
    return candidate


def _whole_answer(model: str, body: Any) -> dict[str, Any]:
    parts, finish = _answer(body)
    return {
        "candidates": [_candidate(parts, finish)],
        "usageMetadata": _usage(body, parts),
        "modelVersion": model,
        "responseId": "fake-response",
    }


def _stream_chunks(model: str, body: Any) -> list[dict[str, Any]]:
    parts, finish = _answer(body)
    pieces: list[list[dict[str, Any]]] = [[p] for p in parts if "text" not in p]
    for part in (p for p in parts if "text" in p):
        words = part["text"].split(" ")
        pieces += [[{"text": w + (" " if i < len(words) - 1 else "")}] for i, w in enumerate(words)]
    pieces = pieces or [[]]
    prompt = _prompt_tokens(body)
    chunks = []
    for number, piece in enumerate(pieces):
        last = number == len(pieces) - 1
        usage = _usage(body, parts) if last else {"promptTokenCount": prompt}
        chunks.append(
            {
                "candidates": [_candidate(piece, finish if last else None)],
                "usageMetadata": usage,
                "modelVersion": model,
                "responseId": "fake-response",
            }
        )
    return chunks


def _vector(text: str, dimensions: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round(digest[i % len(digest)] / 255, 6) for i in range(dimensions)]


def _embeddings(action: str, body: Any) -> dict[str, Any]:
    requests = body["requests"] if action == "batchEmbedContents" else [body]
    vectors = [
        {
            "values": _vector(
                " ".join(p.get("text", "") for p in item["content"]["parts"]),
                item.get("outputDimensionality", EMBEDDING_DIMENSIONS),
            )
        }
        for item in requests
    ]
    return {"embeddings": vectors} if action == "batchEmbedContents" else {"embedding": vectors[0]}
