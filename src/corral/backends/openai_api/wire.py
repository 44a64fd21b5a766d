"""HTTP to one OpenAI-style server: JSON requests, JSON or server-sent-event answers.

This is the gateway's hot path, so it is pyreqwest (Rust's reqwest and hyper: connection pool,
HTTP/1.1 and TLS off the Python thread) and orjson rather than the `openai` SDK or aiohttp.
On this machine kind, against an instant server, one call cost about 3.9 ms of CPU through
the SDK, 0.15 ms through aiohttp and 0.05 ms through pyreqwest, and at one request at a time
pyreqwest answered about 0.15 ms sooner than aiohttp (bench/gateway.py has the whole picture).
TLS is rustls with the operating system's trust store (rustls-platform-verifier), as curl
or the SDK's httpx would use.

Failures are raised as they are (`StatusError` for an HTTP error status, `StreamError` for an
error event or a broken event stream, pyreqwest's and asyncio's own exceptions otherwise);
`backend._upstream_errors` turns them into corral's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping
from typing import Any

import orjson
from pyreqwest.client import Client, ClientBuilder
from pyreqwest.request import StreamRequest
from pyreqwest.response import Response

from corral import __version__

MAX_EVENT_LINE_BYTES = 4 * 2**20
"""An event line longer than this is a broken stream, not a reason to buffer without end."""


_STREAM_READ_AHEAD_BYTES = 1
"""pyreqwest opens a streamed answer once this much of its body has come (or it ended), and
reads ahead at most this much: an event stream is handed on as it arrives, not in 64 KiB
blocks (its default), which would hold a slow model's first tokens back until the end."""


class StatusError(Exception):
    """The server answered with an HTTP error status."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.headers = headers
        self.body = body

    def detail(self) -> str:
        """The server's own message (`error.message` in OpenAI's envelope), else its text."""
        try:
            data = orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return self.body.decode("utf-8", "replace").strip() or f"HTTP {self.status}"
        error = data.get("error", data) if isinstance(data, dict) else data
        message = error.get("message") if isinstance(error, dict) else error
        return message if isinstance(message, str) and message else str(data)


class StreamError(Exception):
    """The server sent an error event in the middle of a stream, or a stream that is not one."""


class Wire:
    """A keep-alive connection pool to one server (`base_url` ends in `/v1`)."""

    def __init__(self, base_url: str, key: str) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
        }
        self._stream_headers = {**self._headers, "Accept": "text/event-stream"}
        self._client: Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST `body`; the decoded JSON answer."""
        request = self._client_now().post(self._base_url + path).headers(self._headers)
        response = await request.body_bytes(orjson.dumps(body)).build().send()
        content = memoryview(await response.bytes())
        if response.status >= 400:
            raise StatusError(response.status, _headers(response), content.tobytes())
        return orjson.loads(content)

    async def events(self, path: str, body: dict[str, Any]) -> AsyncGenerator[Any, None]:
        """POST `body` and open its event stream; raises before returning if the server
        refuses. The iterator yields each event's JSON data and ends at `[DONE]` or EOF."""
        request = self._client_now().post(self._base_url + path).headers(self._stream_headers)
        request = request.streamed_read_buffer_limit(_STREAM_READ_AHEAD_BYTES)
        opened = request.body_bytes(orjson.dumps(body)).build_streamed()
        response = await opened.__aenter__()
        if response.status >= 400:
            try:
                content = bytes(await response.bytes())
                raise StatusError(response.status, _headers(response), content)
            finally:
                await opened.__aexit__(None, None, None)
        return _events(opened, response)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _client_now(self) -> Client:
        """The pool, made in the running loop (its answers wake the loop that made it)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = (
                ClientBuilder()
                .user_agent(f"corral/{__version__}")
                .gzip(False)  # answers are read as sent: no decompression on the hot path
                .build()
            )
            self._loop = loop
        return self._client


def _headers(response: Response) -> dict[str, str]:
    return {name.lower(): value for name, value in response.headers.items()}


async def _events(opened: StreamRequest, response: Response) -> AsyncGenerator[Any, None]:
    """Server-sent events: `data:` lines up to a blank line make one event; comments and
    other fields are skipped. Lines end in LF or CRLF, and may span chunks."""
    reader = response.body_reader
    data: list[bytes] = []
    pending = b""
    try:
        while (chunk := await reader.read_chunk()) is not None:
            *lines, pending = (pending + bytes(chunk)).split(b"\n")
            if len(pending) > MAX_EVENT_LINE_BYTES:
                raise StreamError(f"an event line over {MAX_EVENT_LINE_BYTES} bytes")
            for raw in lines:
                line = raw.removesuffix(b"\r")
                if line:
                    if line.startswith(b"data:"):
                        data.append(line[5:].removeprefix(b" "))
                    continue
                if not data:
                    continue
                payload = b"\n".join(data)
                data.clear()
                if payload == b"[DONE]":
                    return
                yield _event(payload)
    finally:
        await opened.__aexit__(None, None, None)


def _event(payload: bytes) -> Any:
    event = orjson.loads(payload)
    if isinstance(event, dict) and event.get("error") is not None:
        error = event["error"]
        message = error.get("message") if isinstance(error, dict) else error
        raise StreamError(str(message))
    return event
