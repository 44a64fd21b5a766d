"""Upstreams over TLS: through the company proxy, trusting the company's certificates.

Partners (OpenAI, Anthropic, Gemini) are reached over https, in many companies only through a
proxy (`HTTPS_PROXY`, with `NO_PROXY` naming the hosts reached directly) that re-signs traffic
with the company's own CA (`SSL_CERT_FILE` / `SSL_CERT_DIR`). An https upstream that the
environment sends through a proxy goes through httpx, which the provider SDKs use too and which
speaks CONNECT; every other upstream keeps the lean client of `remote.http`, the hot path's
(httpx costs about a millisecond more a call: bench/upstream_clients.py). Both trust the same
certificates (`tls_context`).

`client_for(base_url, headers)` picks the client; both answer the same calls (`request`,
then the answer's `status`, `headers`, `read`, `chunks`, `close`), and httpx's failures are
raised as the lean client's are (`OSError`, `TimeoutError`, `ProtocolError`).
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from corral.backends.remote.http import ConnectionClosed, HttpClient, ProtocolError, tls_context

__all__ = ["HttpxClient", "UpstreamClient", "client_for", "proxied", "tls_context"]


class UpstreamResponse(Protocol):
    status: int

    @property
    def headers(self) -> dict[str, str]: ...

    async def read(self) -> bytes: ...

    def chunks(self) -> AsyncIterator[bytes]: ...

    def close(self) -> None: ...


class UpstreamClient(Protocol):
    async def request(
        self, method: bytes, path: bytes, body: bytes, headers: bytes = b""
    ) -> UpstreamResponse: ...

    async def close(self) -> None: ...


def client_for(base_url: str, headers: Mapping[str, str]) -> UpstreamClient:
    """httpx for an https upstream behind a proxy, the lean client for any other."""
    if proxied(base_url):
        return HttpxClient(base_url, headers)
    return HttpClient(base_url, headers)


def proxied(base_url: str) -> bool:
    """Whether the environment sends this https URL through a proxy (`HTTPS_PROXY` or
    `ALL_PROXY`, the host not in `NO_PROXY`), read as httpx and the SDKs read it."""
    parts = urlsplit(base_url)
    if parts.scheme != "https":
        return False
    proxies = urllib.request.getproxies_environment()
    if not (proxies.get("https") or proxies.get("all")):
        return False
    host = (parts.hostname or "").lower()
    for entry in proxies.get("no", "").replace(" ", "").lower().split(","):
        domain = entry.lstrip(".").rsplit(":", 1)[0] if entry != "*" else "*"
        if domain and (domain == "*" or host == domain or host.endswith("." + domain)):
            return False
    return True


class HttpxClient:
    """`HttpClient`'s calls on httpx: `HTTPS_PROXY`/`NO_PROXY` honoured (httpx's `trust_env`),
    certificates from `tls_context`. Belongs to the event loop it is first used in."""

    def __init__(self, base_url: str, headers: Mapping[str, str]) -> None:
        self._prefix = base_url.rstrip("/")
        # No timeout of its own: the backend's deadline bounds every call (`asyncio.timeout`).
        self._client = httpx.AsyncClient(
            headers=dict(headers), verify=tls_context(), trust_env=True, timeout=None
        )

    async def request(
        self, method: bytes, path: bytes, body: bytes, headers: bytes = b""
    ) -> HttpxResponse:
        extra = dict(_header_lines(headers))
        request = self._client.build_request(
            method.decode(), self._prefix + path.decode(), content=body, headers=extra
        )
        with _as_transport_errors():
            return HttpxResponse(await self._client.send(request, stream=True))

    async def close(self) -> None:
        await self._client.aclose()


class HttpxResponse:
    __slots__ = ("_response", "status")

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status = response.status_code

    @property
    def headers(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self._response.headers.items()}

    async def read(self) -> bytes:
        with _as_transport_errors():
            return await self._response.aread()

    async def chunks(self) -> AsyncIterator[bytes]:
        with _as_transport_errors():
            async for chunk in self._response.aiter_raw():
                yield chunk

    def close(self) -> None:
        # The lean client's `close` is synchronous, httpx's is not: a body read to its end is
        # closed by httpx already; an answer left unread is closed in the background.
        if not self._response.is_closed:
            task = asyncio.get_running_loop().create_task(self._response.aclose())
            _closing.add(task)
            task.add_done_callback(_closing.discard)


_closing: set[asyncio.Task[None]] = set()  # held until done (the loop keeps weak references)


@contextmanager
def _as_transport_errors() -> Iterator[None]:
    """httpx's failures as the lean client's, so that one translation serves both."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise TimeoutError(str(exc)) from None
    except (httpx.RemoteProtocolError, httpx.DecodingError) as exc:
        raise ProtocolError(str(exc)) from None
    except httpx.TransportError as exc:  # connect, proxy, read, write, TLS
        raise ConnectionClosed(f"{type(exc).__name__}: {exc}") from None


def _header_lines(block: bytes) -> Iterator[tuple[str, str]]:
    for line in block.decode("latin-1").split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            yield name.strip(), value.strip()
