"""ASGI middleware: request ids, access logs and metrics, and the request body size limit.

Written as plain ASGI (not `BaseHTTPMiddleware`) so streamed responses pass straight through
and the hot path pays for no extra task per request.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Collection

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from corral.api.errors import envelope
from corral.errors import PayloadTooLarge
from corral.observability.logging import new_request_id, request_id_var
from corral.observability.metrics import Metrics

logger = logging.getLogger("corral.access")
# The ledger keys its rows by request id in a column of 64 characters, which must also hold a
# task's per-call suffix (`.N`) and, for an id used twice, a `#xxxxxxxx` one.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,48}$")


class RequestContextMiddleware:
    """Honours a sane `X-Request-ID` (else makes one), returns it, logs and counts the request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = _header(scope, b"x-request-id")
        request_id = supplied if supplied and _VALID_REQUEST_ID.match(supplied) else None
        request_id = request_id or new_request_id()
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                extra = [(b"x-request-id", request_id.encode())]
                ctx = scope["state"].get("ctx")
                if ctx is not None and ctx.response_headers:  # set once authenticated
                    present = {name.lower() for name, _ in message["headers"]}
                    for name, value in ctx.response_headers.items():
                        raw = _header_name(name)
                        if raw not in present:
                            extra.append((raw, value.encode()))
                message["headers"] = [*message["headers"], *extra]
                self._observe(scope, status, time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                },
            )
            request_id_var.reset(token)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        path = getattr(route, "path", "unmatched")
        self.metrics.request_done(scope["method"], path, status, seconds)


class BodySizeLimitMiddleware:
    """Refuses bodies over `max_bytes` with 413, before reading them when the size is declared.
    The `exempt` paths bound their bodies themselves (file uploads, by `files.max_bytes`)."""

    def __init__(self, app: ASGIApp, max_bytes: int, exempt: Collection[str] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._error()
            return message

        await self.app(scope, limited_receive, send)

    def _error(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"Request body too large: the limit is {self.max_bytes} bytes "
            "(server.max_body_bytes in the config)."
        )

    async def _refuse(self, send: Send) -> None:
        body = orjson.dumps(envelope(self._error()))
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@functools.lru_cache(maxsize=256)
def _header_name(name: str) -> bytes:
    """A response header's name as it goes out. The names are the code's own (rate limits,
    the backend, its digest): a handful, each encoded once rather than on every response."""
    return name.lower().encode()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None
