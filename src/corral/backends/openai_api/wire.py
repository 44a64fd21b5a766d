"""HTTP to one OpenAI-style server: JSON requests, JSON or server-sent-event answers.

This is the gateway's hot path, so it is a lean HTTP client (`remote.http`; httpx for an https
upstream reached through a proxy: `remote.tls`) and orjson rather than the `openai` SDK, which
spent many times aiohttp's CPU per request, as aiohttp did this client's (figures in
bench/results/design_figures.md).

Failures are raised as they are (`StatusError` for an HTTP error status, the client's and
asyncio's own exceptions otherwise); `backend._upstream_errors` turns them into corral's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping
from typing import Any

import orjson

from corral import __version__
from corral.backends.remote.http import header_block
from corral.backends.remote.tls import UpstreamClient, UpstreamResponse, client_for

_ACCEPT_EVENTS = header_block({"Accept": "text/event-stream"})
MAX_LINE_BYTES = 2**21
"""Longest SSE line accepted (big tool-call chunks fit many times over)."""


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
    """The server sent an error event in the middle of a stream."""


class Wire:
    """Keep-alive connections to one server (`base_url` ends in `/v1`)."""

    def __init__(self, base_url: str, key: str) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "User-Agent": f"corral/{__version__}",
        }
        self._client: UpstreamClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST `body`; the decoded JSON answer."""
        response = await self._client_now().request(b"POST", path.encode(), orjson.dumps(body))
        try:
            content = await response.read()
        finally:
            response.close()
        if response.status >= 400:
            raise StatusError(response.status, response.headers, content)
        return orjson.loads(content)

    async def events(self, path: str, body: dict[str, Any]) -> AsyncGenerator[Any, None]:
        """POST `body` and open its event stream; raises before returning if the server
        refuses. The iterator yields each event's JSON data and ends at `[DONE]` or EOF."""
        response = await self._client_now().request(
            b"POST", path.encode(), orjson.dumps(body), _ACCEPT_EVENTS
        )
        if response.status >= 400:
            try:
                raise StatusError(response.status, response.headers, await response.read())
            finally:
                response.close()
        return _events(response)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _client_now(self) -> UpstreamClient:
        """The connections, made in the running loop (a connection belongs to its loop)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = client_for(self._base_url, self._headers)
            self._loop = loop
        return self._client


async def _events(response: UpstreamResponse) -> AsyncGenerator[Any, None]:
    """Server-sent events: `data:` lines up to a blank line make one event; comments and
    other fields are skipped. Parsed from whatever bytes have arrived (`Response.chunks`), not
    line by line: a read that brings several events costs one wait, not two per event."""
    data: list[bytes] = []
    partial: list[bytes] = []  # the start of a line whose end has not arrived yet
    held = 0
    try:
        async for block in response.chunks():
            *lines, rest = block.split(b"\n")
            if lines and partial:
                lines[0] = b"".join((*partial, lines[0]))
                partial.clear()
            held = len(rest) if lines else held + len(rest)
            if held > MAX_LINE_BYTES:
                raise StreamError(f"an event line longer than {MAX_LINE_BYTES} bytes")
            if rest:
                partial.append(rest)
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
        response.close()


def _event(payload: bytes) -> Any:
    event = orjson.loads(payload)
    if isinstance(event, dict) and event.get("error") is not None:
        error = event["error"]
        message = error.get("message") if isinstance(error, dict) else error
        raise StreamError(str(message))
    return event
