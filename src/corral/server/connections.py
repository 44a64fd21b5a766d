"""Connection limits uvicorn does not have: deadlines for a request's headers and body, a cap
on header bytes, and caps on open connections per client address and in all.

uvicorn 0.54 closes an idle keep-alive connection (`timeout_keep_alive`, used as is) but
starts no clock before a request's headers are complete, nor while its body arrives: a client
that connects and sends nothing, half a header, or one byte of a promised body holds its
connection (a file descriptor) for ever; its httptools parser also takes headers of any size.
Its `limit_concurrency` answers 503 only once a request's headers are in, counts no addresses,
and would refuse a connection as the only one of an address. So `GuardedProtocol` is uvicorn's
httptools protocol with those checks added at the parser callbacks: they belong to the
connection, below the ASGI app, which never sees a request that is not complete.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from corral.errors import (
    CorralError,
    HeadersTooLarge,
    RequestTimeout,
    ServerAtCapacity,
    TooManyConnections,
)
from corral.server.limits import ConnectionLimits

logger = logging.getLogger("corral.server")


class ConnectionGuard:
    """The open connections of one server process, by client address."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self._by_address: Counter[str] = Counter()
        self._total = 0

    def admit(self, address: str | None) -> CorralError | None:
        """Count a new connection in, or the error to refuse it with (it is then not counted)."""
        if self._total >= self.limits.max_connections:
            return ServerAtCapacity(
                "The server has as many connections open as it allows; retry shortly."
            )
        per_client = self.limits.max_per_client
        if address is not None and per_client and self._by_address[address] >= per_client:
            return TooManyConnections(
                f"Too many connections open from your address (at most {per_client}); "
                "close some or reuse them."
            )
        self._total += 1
        if address is not None:
            self._by_address[address] += 1
        return None

    def release(self, address: str | None) -> None:
        self._total -= 1
        if address is not None:
            self._by_address[address] -= 1
            if not self._by_address[address]:
                del self._by_address[address]


class GuardedConfig(uvicorn.Config):
    """uvicorn's configuration, serving HTTP through `GuardedProtocol` under `limits`. Each
    worker process builds its own, and its guard counts that process's connections."""

    def __init__(self, app: Any, *, limits: ConnectionLimits, **options: Any) -> None:
        super().__init__(
            app,
            http=GuardedProtocol,
            # corral has no WebSocket routes; an upgraded connection would leave this
            # protocol without a word, and its place in the count with it.
            ws="none",
            timeout_keep_alive=limits.keep_alive_timeout_s,
            **options,
        )
        self.connection_guard = ConnectionGuard(limits)


class GuardedProtocol(HttpToolsProtocol):
    """One HTTP/1.1 connection, closed when its client is too slow or sends too much."""

    def __init__(
        self,
        config: GuardedConfig,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.guard = config.connection_guard
        self.limits = self.guard.limits
        self.deadline: asyncio.TimerHandle | None = None
        self.admitted = False
        self.finished = False
        """Answered and closing: whatever the client sends now is ignored."""
        self.request_begun = False
        self.header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        refusal = self.guard.admit(self.client[0] if self.client else None)
        if refusal is not None:
            self._refuse(refusal)
            return
        self.admitted = True
        self._start_clock(self.limits.header_timeout_s, self._headers_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_clock()
        if self.admitted:
            self.admitted = False
            self.guard.release(self.client[0] if self.client else None)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.finished:
            return
        if self.timeout_keep_alive_task is not None:  # idle between requests until now
            self._start_clock(self.limits.header_timeout_s, self._headers_late)
        super().data_received(data)

    # Parser callbacks: where a request's headers and body begin and end.

    def on_message_begin(self) -> None:
        if self.deadline is None:  # a request pipelined behind one still being answered
            self._start_clock(self.limits.header_timeout_s, self._headers_late)
        self.request_begun = True
        self.header_bytes = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        if self._within_header_budget(len(url)):
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._within_header_budget(len(name) + len(value) + 4):
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self.finished:
            return
        self.request_begun = False
        self._start_clock(self.limits.body_timeout_s, self._body_late)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self.finished:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self.finished:
            return
        self._stop_clock()
        super().on_message_complete()

    # What happens to a client that is too slow, too big, or one connection too many.

    def _within_header_budget(self, size: int) -> bool:
        if self.finished:
            return False
        self.header_bytes += size
        if self.header_bytes <= self.limits.max_header_bytes:
            return True
        self._answer_and_close(
            HeadersTooLarge(
                f"The request's headers exceed {self.limits.max_header_bytes} bytes.",
            )
        )
        return False

    def _headers_late(self) -> None:
        self.deadline = None
        if not self.request_begun:  # nothing asked: an idle connection, closed without a word
            self.finished = True
            self.transport.close()
            return
        self._answer_and_close(
            RequestTimeout(
                f"The request's headers did not arrive within "
                f"{self.limits.header_timeout_s:g} s; the connection is closed."
            )
        )

    def _body_late(self) -> None:
        self.deadline = None
        if self.cycle is not None and self.cycle.response_started:
            self.finished = True  # the app answered without the body: nothing more to say
            self.transport.close()
            return
        self._answer_and_close(
            RequestTimeout(
                f"The request body did not arrive within {self.limits.body_timeout_s:g} s; "
                "the connection is closed."
            )
        )

    def _refuse(self, error: CorralError) -> None:
        """Answer at once and close. The request the client may already be sending is not
        read: a refused connection costs no more than its answer."""
        self._answer_and_close(error)

    def _answer_and_close(self, error: CorralError) -> None:
        logger.warning(
            "connection closed",
            extra={"client": self.client[0] if self.client else None, "reason": error.code},
        )
        self._stop_clock()
        self.finished = True
        answering = False
        if self.cycle is not None and not self.cycle.response_complete:
            # The app may be waiting for this request's body: it will hear of a disconnect,
            # and anything it sends goes nowhere.
            answering = self.cycle.response_started
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        if not self.transport.is_closing():
            if not answering:  # else the error would land inside the app's response
                self.transport.write(raw_error_response(error))
            self.transport.close()

    def _start_clock(self, seconds: float, expired: Any) -> None:
        self._stop_clock()
        self.deadline = self.loop.call_later(seconds, expired)

    def _stop_clock(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None


def raw_error_response(error: CorralError) -> bytes:
    """A whole HTTP/1.1 response carrying OpenAI's error envelope, closing the connection."""
    # Imported here: it brings FastAPI, which a worker has loaded already and `corral serve`'s
    # supervisor (which imports this module for `GuardedConfig`) has no use for.
    from corral.api.errors import envelope

    body = orjson.dumps(envelope(error))
    headers = {
        "content-type": "application/json",
        "content-length": str(len(body)),
        "connection": "close",
        **{name.lower(): value for name, value in error.headers.items()},
    }
    head = b"".join(f"{name}: {value}\r\n".encode("latin-1") for name, value in headers.items())
    return STATUS_LINE[error.status_code] + head + b"\r\n" + body
