"""`HttpClient` against a server that writes exactly the bytes each test scripts."""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from corral.backends.remote import http
from corral.backends.remote.http import ConnectionClosed, HttpClient, ProtocolError
from tests.backends.remote.kit import listening, self_signed

Answer = Callable[[asyncio.StreamWriter], Awaitable[None]]


class ScriptedServer:
    """Reads each request whole and answers it with the next of `answers`; counts the
    connections opened and those that ended."""

    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self.requests: list[tuple[bytes, bytes]] = []
        self.connections = 0
        self.ended = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while not writer.is_closing():
                head = await reader.readuntil(b"\r\n\r\n")
                found = re.search(rb"(?i)content-length: (\d+)", head)
                body = await reader.readexactly(int(found.group(1)) if found else 0)
                self.requests.append((head, body))
                await self.answers.pop(0)(writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self.ended += 1


def sized(body: bytes) -> Answer:
    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()

    return answer


def then_close(first: Answer) -> Answer:
    async def answer(writer: asyncio.StreamWriter) -> None:
        await first(writer)
        writer.close()

    return answer


def raw(data: bytes, close: bool = False) -> Answer:
    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()
        if close:
            writer.close()

    return answer


def chunked(*pieces: bytes) -> Answer:
    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in pieces:
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    return answer


@pytest.fixture
async def server() -> AsyncIterator[tuple[ScriptedServer, str]]:
    scripted = ScriptedServer()
    async with listening(scripted.handle) as port:
        yield scripted, f"http://127.0.0.1:{port}/v1"


async def post(client: HttpClient, body: bytes = b"{}") -> tuple[int, bytes]:
    response = await client.request(b"POST", b"/chat/completions", body)
    try:
        return response.status, await response.read()
    finally:
        response.close()


async def test_requests_in_turn_share_one_connection(server: tuple[ScriptedServer, str]) -> None:
    scripted, url = server
    scripted.answers = [sized(b"one"), sized(b"two"), sized(b"three")]
    client = HttpClient(url, {"Authorization": "Bearer k"})

    answers = [await post(client, b'{"n": %d}' % n) for n in range(3)]
    await client.close()

    assert answers == [(200, b"one"), (200, b"two"), (200, b"three")]
    assert scripted.connections == 1
    head, body = scripted.requests[2]
    assert head.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert b"\r\nHost: 127.0.0.1:" in head and b"\r\nAuthorization: Bearer k\r\n" in head
    assert body == b'{"n": 2}'


async def test_a_body_without_a_length_ends_when_the_server_closes(
    server: tuple[ScriptedServer, str],
) -> None:
    scripted, url = server
    scripted.answers = [raw(b"HTTP/1.1 200 OK\r\n\r\nall of it", close=True), sized(b"next")]
    client = HttpClient(url, {})

    first, second = await post(client), await post(client)
    await client.close()

    assert (first, second) == ((200, b"all of it"), (200, b"next"))
    assert scripted.connections == 2


async def test_an_answer_left_unread_never_reaches_the_next_request(
    server: tuple[ScriptedServer, str],
) -> None:
    scripted, url = server
    scripted.answers = [chunked(b"left ", b"unread"), sized(b"mine")]
    client = HttpClient(url, {})

    response = await client.request(b"POST", b"/chat/completions", b"{}")
    response.close()
    answer = await post(client)
    await client.close()

    assert answer == (200, b"mine")
    assert scripted.connections == 2


async def test_an_answer_dropped_unread_closes_its_connection(
    server: tuple[ScriptedServer, str],
) -> None:
    scripted, url = server
    scripted.answers = [chunked(b"nobody ", b"reads this")]
    client = HttpClient(url, {})

    response = await client.request(b"POST", b"/chat/completions", b"{}")
    del response
    await asyncio.sleep(0.05)
    ended = scripted.ended
    await client.close()

    assert ended == 1


async def test_a_connection_the_server_closed_while_idle_is_not_reused(
    server: tuple[ScriptedServer, str],
) -> None:
    scripted, url = server
    scripted.answers = [then_close(sized(b"bye")), sized(b"hello again")]
    client = HttpClient(url, {})

    first = await post(client)
    await asyncio.sleep(0.05)  # the server's close reaches the client
    second = await post(client)
    await client.close()

    assert (first, second) == ((200, b"bye"), (200, b"hello again"))
    assert scripted.connections == 2


async def test_a_caller_that_gives_up_leaves_no_answer_for_the_next(
    server: tuple[ScriptedServer, str],
) -> None:
    scripted, url = server

    async def late(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.2)
        await sized(b"too late")(writer)

    scripted.answers = [late, sized(b"on time")]
    client = HttpClient(url, {})

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await post(client)
    answer = await post(client)
    await client.close()

    assert answer == (200, b"on time") and scripted.connections == 2


async def test_an_answer_cut_short_is_a_closed_connection(
    server: tuple[ScriptedServer, str],
) -> None:
    scripted, url = server
    scripted.answers = [raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", close=True)]
    client = HttpClient(url, {})

    with pytest.raises(ConnectionClosed):
        await post(client)
    await client.close()


async def test_bytes_that_are_not_http_are_a_protocol_error(
    server: tuple[ScriptedServer, str],
) -> None:
    scripted, url = server
    scripted.answers = [raw(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")]
    client = HttpClient(url, {})

    with pytest.raises(ProtocolError, match=r"not valid HTTP/1\.1"):
        await post(client)
    await client.close()


async def test_a_large_body_read_slowly_arrives_whole_and_in_order(
    server: tuple[ScriptedServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Past the read-ahead the socket is paused until the reader catches up.
    monkeypatch.setattr(http, "READ_AHEAD_BYTES", 64 * 1024)
    scripted, url = server
    pieces = [bytes([n]) * 32 * 1024 for n in range(64)]  # 2 MiB in all
    scripted.answers = [chunked(*pieces), sized(b"after")]
    client = HttpClient(url, {})

    response = await client.request(b"POST", b"/chat/completions", b"{}")
    received = []
    async for block in response.chunks():
        received.append(block)
        await asyncio.sleep(0.001)
    response.close()
    after = await post(client)
    await client.close()

    assert b"".join(received) == b"".join(pieces)
    assert after == (200, b"after") and scripted.connections == 1


async def test_connections_idle_past_the_limit_are_closed(
    server: tuple[ScriptedServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http, "IDLE_S", 0.05)
    scripted, url = server
    scripted.answers = [sized(b"%d" % n) for n in range(12)]
    client = HttpClient(url, {})

    await asyncio.gather(post(client), post(client))  # two connections, both left idle
    for _ in range(10):  # one at a time: the newest connection serves them all
        await post(client)
        await asyncio.sleep(0.02)
    ended = scripted.ended
    await client.close()

    assert scripted.connections == 2 and ended == 1


async def test_a_connection_idle_past_the_limit_is_not_reused(
    server: tuple[ScriptedServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http, "IDLE_S", 0.05)
    scripted, url = server
    scripted.answers = [sized(b"early"), sized(b"late")]
    client = HttpClient(url, {})

    await post(client)
    await asyncio.sleep(0.1)
    answer = await post(client)
    await client.close()

    assert answer == (200, b"late") and scripted.connections == 2


def test_a_header_that_would_break_its_line_is_refused() -> None:
    with pytest.raises(ValueError, match="Authorization"):
        HttpClient("http://127.0.0.1:1/v1", {"Authorization": "Bearer k\r\nX-Evil: 1"})


async def test_https_checks_the_servers_certificate(tmp_path: Path) -> None:
    certificate, key = self_signed("localhost", tmp_path)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(certificate, key)
    scripted = ScriptedServer()
    scripted.answers = [sized(b"secret"), sized(b"never")]
    trusting = ssl.create_default_context(cafile=str(certificate))

    async with listening(scripted.handle, tls=served) as port:
        url = f"https://localhost:{port}/v1"
        trusted, default = HttpClient(url, {}, tls=trusting), HttpClient(url, {})
        answer = await post(trusted)
        with pytest.raises(ssl.SSLCertVerificationError):
            await post(default)
        await trusted.close()
        await default.close()

    assert answer == (200, b"secret")
