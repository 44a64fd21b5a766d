"""An instant fake OpenAI-compatible upstream for bench/gateway.py, run as its own process.

A raw ASGI app under uvicorn (uvloop + httptools, no framework, no access log): every
`POST /v1/chat/completions` gets the same short answer at once, as one JSON body or, when the
request says `"stream": true`, as one server-sent-events body (a role chunk, three content
chunks, a finish chunk, a usage chunk when `stream_options.include_usage` asks for it, and
`[DONE]`). `GET /v1/models` lists the one model (the readiness probe). Anything else is a 404.

Run: `.venv/bin/python bench/fake_upstream.py --port 9000` (`--host`, `--model`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CREATED = 1_700_000_000
PIECES = ("one", " two", " three")
PROMPT_TOKENS, COMPLETION_TOKENS = 12, len(PIECES)
USAGE = {
    "prompt_tokens": PROMPT_TOKENS,
    "completion_tokens": COMPLETION_TOKENS,
    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
}
JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


def completion_body(model: str) -> bytes:
    answer = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(PIECES)},
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
    }
    return json.dumps(answer).encode()


def stream_body(model: str, include_usage: bool) -> bytes:
    def chunk(delta: dict[str, str], finish: str | None, usage: object = None) -> bytes:
        choices = [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]
        data: dict[str, Any] = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "choices": choices,
        }
        if usage:
            data["usage"] = usage
        return b"data: " + json.dumps(data).encode() + b"\n\n"

    parts = [chunk({"role": "assistant", "content": ""}, None)]
    parts += [chunk({"content": piece}, None) for piece in PIECES]
    parts.append(chunk({}, "stop"))
    if include_usage:
        parts.append(chunk({}, None, USAGE))
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


def make_app(model: str) -> Callable[[Message, Receive, Send], Awaitable[None]]:
    """The ASGI app; the four possible answers are built once, here."""
    plain = completion_body(model)
    streams = {usage: stream_body(model, usage) for usage in (False, True)}
    models = json.dumps({"object": "list", "data": [{"id": model, "object": "model"}]}).encode()

    async def respond(send: Send, status: int, headers: list[Any], body: bytes) -> None:
        length = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers + length})
        await send({"type": "http.response.body", "body": body})

    async def app(scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if scope["method"] == "GET" and path.endswith("/models"):
            return await respond(send, 200, JSON_HEADERS, models)
        if scope["method"] != "POST" or not path.endswith("/chat/completions"):
            return await respond(send, 404, JSON_HEADERS, b'{"error":{"message":"not found"}}')
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            request = json.loads(body)
        except ValueError:
            return await respond(send, 400, JSON_HEADERS, b'{"error":{"message":"bad JSON"}}')
        if not request.get("stream"):
            return await respond(send, 200, JSON_HEADERS, plain)
        usage = bool((request.get("stream_options") or {}).get("include_usage"))
        await respond(send, 200, SSE_HEADERS, streams[usage])

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", default="fake-mini")
    args = parser.parse_args()
    uvicorn.run(
        make_app(args.model),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="off",
        backlog=4096,
    )


if __name__ == "__main__":
    main()
