"""A keep-alive HTTP/1.1 client for the upstream calls on the gateway's hot path.

Every request to an OpenAI-style server goes through here (`openai_api.wire`) unless it must go
through a proxy, so its cost is paid on every request a gateway serves. Against an instant
server on loopback it takes a small fraction of the instructions aiohttp's client takes for
the same POST and answer (callgrind; figures in bench/results/design_figures.md).

It does what those calls need and nothing more: a request with a body on a keep-alive connection
over TCP or TLS (an https upstream behind a proxy goes through httpx: `remote.tls`), and an
answer whose body is sized (`Content-Length`), chunked, or ended by the server closing, read
whole or piece by piece as it arrives. The bytes are parsed by httptools (llhttp, Node's
parser). No redirects, cookies, proxies, compression or 1xx answers: an OpenAI-style API needs
none of them.

A connection goes back to the idle pool only once its answer has been read to the end and the
server keeps it open; any other end (an error, a caller cancelled or gone, an answer left
unread) closes it. Idle connections are reused newest first and closed after `IDLE_S`.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import suppress
from typing import cast
from urllib.parse import urlsplit

import httptools

IDLE_S = 15.0
"""An idle connection unused this long is closed (servers close theirs after 5 s and up)."""

READ_AHEAD_BYTES = 2**20
"""Body bytes held ahead of a slow reader before the socket stops being read."""


def tls_context() -> ssl.SSLContext:
    """The system's trusted certificates, or those `SSL_CERT_FILE` / `SSL_CERT_DIR` name (a
    company's own CA, as OpenSSL and httpx read them)."""
    cafile = os.environ.get("SSL_CERT_FILE") or None
    capath = os.environ.get("SSL_CERT_DIR") or None
    return ssl.create_default_context(cafile=cafile, capath=capath)


class ProtocolError(ValueError):
    """The server's bytes are not an HTTP/1.1 answer."""


class ConnectionClosed(ConnectionError):
    """The connection ended before the answer was complete."""


class HttpClient:
    """Keep-alive connections to the server of `base_url`, whose path prefixes every request's.

    Belongs to the event loop it is first used in."""

    def __init__(
        self, base_url: str, headers: Mapping[str, str], tls: ssl.SSLContext | None = None
    ) -> None:
        """`headers` go with every request; `tls` replaces the default TLS settings (the
        system's trusted certificates) for an https:// URL."""
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http:// or https:// URL: {base_url!r}")
        secure = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if secure else 80)
        self._ssl = (tls or tls_context()) if secure else None
        self._prefix = parts.path.rstrip("/").encode()
        fields = {"Host": parts.netloc.rpartition("@")[2], **headers}
        self._fields = header_block(fields)
        self._idle: deque[_Connection] = deque()
        self._open: set[_Connection] = set()

    async def request(
        self, method: bytes, path: bytes, body: bytes, headers: bytes = b""
    ) -> Response:
        """Send the request; returns once the answer's status and headers have arrived.
        `headers`: extra header lines, each ending in CRLF (see `header_block`)."""
        connection = await self._connection()
        connection.send(
            b"%s %s%s HTTP/1.1\r\n%s%sContent-Length: %d\r\n\r\n%s"
            % (method, self._prefix, path, self._fields, headers, len(body), body)
        )
        try:
            await connection.head()
        except BaseException:
            self._discard(connection)
            raise
        return Response(self, connection)

    async def close(self) -> None:
        """Close every connection, idle or in use."""
        for connection in list(self._open):
            self._discard(connection)
        self._idle.clear()

    async def _connection(self) -> _Connection:
        loop = asyncio.get_running_loop()
        while self._idle:
            connection = self._idle.pop()
            if connection.reusable() and connection.idle_since >= loop.time() - IDLE_S:
                return connection
            self._discard(connection)
        transport, connection = await loop.create_connection(
            lambda: _Connection(loop),
            self._host,
            self._port,
            ssl=self._ssl,
            server_hostname=self._host if self._ssl is not None else None,
        )
        connection.connection_made(transport)  # uvloop may call it only after returning
        self._open.add(connection)
        return connection

    def _release(self, connection: _Connection) -> None:
        if not connection.reusable():
            self._discard(connection)
            return
        now = connection.idle_from_now()
        self._idle.append(connection)
        while self._idle[0].idle_since < now - IDLE_S:
            self._discard(self._idle.popleft())

    def _discard(self, connection: _Connection) -> None:
        self._open.discard(connection)
        connection.close()


class Response:
    """An answer whose status and headers have arrived. Its body is read with `read` or
    `chunks`; `close` must follow, whatever happens (it puts the connection back or closes
    it)."""

    __slots__ = ("_client", "_connection", "_raw_headers", "status")

    def __init__(self, client: HttpClient, connection: _Connection) -> None:
        self._client = client
        self._connection: _Connection | None = connection
        self.status = connection.status
        self._raw_headers = connection.raw_headers

    @property
    def headers(self) -> dict[str, str]:
        """Names in lower case; a repeated header's values joined by commas."""
        out: dict[str, str] = {}
        for raw_name, raw_value in self._raw_headers:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            out[name] = f"{out[name]}, {value}" if name in out else value
        return out

    async def read(self) -> bytes:
        """The whole body."""
        # Its own loop rather than joining `chunks()`: an async generator per plain request
        # costs more than the two lines it would save.
        connection = self._open_connection()
        parts = []
        while chunk := await connection.chunk():
            parts.append(chunk)
        return b"".join(parts)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives, in the pieces the socket delivered."""
        connection = self._open_connection()
        while chunk := await connection.chunk():
            yield chunk

    def close(self) -> None:
        if self._connection is not None:
            self._client._release(self._connection)
            self._connection = None

    def __del__(self) -> None:
        # An answer dropped unclosed (a stream whose reader never started) must not keep its
        # connection open, nor the server working for nobody.
        if self._connection is not None:
            with suppress(RuntimeError):  # its event loop is already closed
                self._client._discard(self._connection)

    def _open_connection(self) -> _Connection:
        if self._connection is None:
            raise ConnectionClosed("the answer was closed before its body was read")
        return self._connection


def header_block(headers: Mapping[str, str]) -> bytes:
    """Header lines for `HttpClient.request`; refuses a name or value that would break out of
    its line."""
    for name, value in headers.items():
        if any(c in name + value for c in "\r\n\0") or not name or ":" in name:
            raise ValueError(f"header {name!r} cannot be sent: it holds a line break or colon")
    return "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode("latin-1")


class _Connection(asyncio.Protocol):
    """One connection and the answer now on it. The parser calls the `on_*` methods."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self.lost = False
        self.idle_since = 0.0
        self._start()

    def _start(self) -> None:
        self.status = 0
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self._head_done = False
        self._complete = False
        self._keep_alive = False
        self._body: deque[bytes] = deque()
        self._buffered = 0
        self._error: Exception | None = None

    # -- used by the client --------------------------------------------------------------

    def send(self, request: bytes) -> None:
        assert self._transport is not None
        self._start()
        self._transport.write(request)

    async def head(self) -> None:
        while not self._head_done:
            if self._error is not None:
                raise self._error
            await self._wait()

    async def chunk(self) -> bytes:
        """The next piece of the body; b"" once it has all been read."""
        while not self._body:
            if self._complete:
                return b""
            if self._error is not None:
                raise self._error
            await self._wait()
        data = self._body.popleft()
        self._buffered -= len(data)
        if self._paused and self._buffered <= READ_AHEAD_BYTES // 2:
            self._paused = False
            assert self._transport is not None
            self._transport.resume_reading()
        return data

    def reusable(self) -> bool:
        """The last answer was read to its end and the server keeps the connection open."""
        return self._complete and self._keep_alive and not self._body and not self.lost

    def idle_from_now(self) -> float:
        self.idle_since = self._loop.time()
        return self.idle_since

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def _wait(self) -> None:
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: Exception) -> None:
        if self._error is None:
            self._error = error
        self.close()
        self._wake()

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ProtocolError(f"the server's answer is not valid HTTP/1.1: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._head_done and exc is None and not self._complete and self._until_close():
            self._complete = True  # a body without a length ends when the server closes
            self._wake()
            return
        if not self._complete:
            reason = f": {exc}" if exc is not None else ""
            self._fail(ConnectionClosed(f"the server closed the connection{reason}"))

    def _until_close(self) -> bool:
        """The answer's body has no length: it ends when the server closes."""
        sized = (b"content-length", b"transfer-encoding")
        return self.status not in (204, 304) and not any(
            name.lower() in sized for name, _ in self.raw_headers
        )

    # -- httptools callbacks ---------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        self._head_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)
        self._buffered += len(body)
        if not self._paused and self._buffered > READ_AHEAD_BYTES:
            self._paused = True
            assert self._transport is not None
            self._transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self._complete = True
        self._keep_alive = self._parser.should_keep_alive()
        self._wake()
