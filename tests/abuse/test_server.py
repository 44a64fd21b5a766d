"""Clients that hold connections without finishing a request, or open too many, against a
real `corral serve` on loopback: each is cut off in time, and other clients are still served."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from tests.support import ADMIN_KEY, RunningServer, start_server

HEADER_TIMEOUT_S = 2.0
BODY_TIMEOUT_S = 1.0
KEEP_ALIVE_S = 1
PER_CLIENT = 4
PATIENCE_S = 6.0
"""Longest any cut-off may take here: the timeouts above plus a busy machine's slack."""
LIMITS = {
    "CORRAL_SERVER__CONNECTIONS__HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
    "CORRAL_SERVER__CONNECTIONS__BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
    "CORRAL_SERVER__CONNECTIONS__KEEP_ALIVE_TIMEOUT_S": str(KEEP_ALIVE_S),
    "CORRAL_SERVER__CONNECTIONS__MAX_PER_CLIENT": str(PER_CLIENT),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("corral-home")
    running = start_server(home, "embedded_model = false\n", env=LIMITS)
    yield running
    running.stop()


def connect(server: RunningServer, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), source_address=(source, 0))
    sock.settimeout(PATIENCE_S)
    return sock


def until_closed(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took."""
    started, received = time.monotonic(), b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        pytest.fail(f"still open after {PATIENCE_S} s, having sent {received!r}")
    return received, time.monotonic() - started


def one_response(sock: socket.socket) -> bytes:
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(
        next(line for line in head.lower().split(b"\r\n") if b"content-length" in line).split(b":")[
            1
        ]
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def status_and_error(response: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)["error"]


def test_a_connection_that_sends_nothing_is_closed_without_a_word(server: RunningServer) -> None:
    with connect(server) as sock:
        received, waited = until_closed(sock)

    assert received == b""
    assert waited >= HEADER_TIMEOUT_S * 0.9


def test_half_a_header_gets_408_and_the_connection_closed(server: RunningServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: corral\r\nX-Half: ")
        received, waited = until_closed(sock)

    status, error = status_and_error(received)
    assert (status, error["code"]) == (408, "request_timeout")
    assert "headers" in str(error["message"])
    assert waited >= HEADER_TIMEOUT_S * 0.9


def test_a_header_dribbled_a_byte_at_a_time_is_cut_off_all_the_same(
    server: RunningServer,
) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        deadline = time.monotonic() + PATIENCE_S
        try:
            while time.monotonic() < deadline:
                sock.sendall(b"X")
                time.sleep(HEADER_TIMEOUT_S / 5)
        except (BrokenPipeError, ConnectionResetError):
            pass
        received, _ = until_closed(sock)

    assert status_and_error(received)[0] == 408
    assert time.monotonic() < deadline


def stalled_post(sock: socket.socket, key: str) -> None:
    sock.sendall(
        b"POST /admin/tenants HTTP/1.1\r\nHost: corral\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {key}\r\n".encode()
        + b"Content-Length: 100000\r\n\r\n{"
    )


def test_a_stalled_body_gets_408_and_the_connection_closed(server: RunningServer) -> None:
    with connect(server) as sock:
        stalled_post(sock, ADMIN_KEY)
        received, waited = until_closed(sock)

    status, error = status_and_error(received)
    assert (status, error["code"]) == (408, "request_timeout")
    assert "body" in str(error["message"])
    assert waited >= BODY_TIMEOUT_S * 0.9


def test_a_stalled_body_answered_early_is_closed_after_the_answer(server: RunningServer) -> None:
    with connect(server) as sock:
        stalled_post(sock, "sk-wrong")
        received, waited = until_closed(sock)

    assert status_and_error(received)[0] == 401  # refused before the body is read
    assert waited >= BODY_TIMEOUT_S * 0.9


def test_an_idle_keep_alive_connection_is_closed(server: RunningServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: corral\r\n\r\n")
        first = one_response(sock)
        received, waited = until_closed(sock)

    assert first.startswith(b"HTTP/1.1 200")
    assert received == b""
    assert KEEP_ALIVE_S * 0.9 <= waited < PATIENCE_S


def test_oversized_headers_get_431(server: RunningServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: corral\r\n")
        try:
            for _ in range(100):
                sock.sendall(b"X-Pad: " + b"a" * 4096 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        received, _ = until_closed(sock)

    status, error = status_and_error(received)
    assert (status, error["code"]) == (431, "request_headers_too_large")


def test_one_address_is_capped_while_another_is_served(server: RunningServer) -> None:
    with ExitStack() as held:
        for _ in range(PER_CLIENT):
            held.enter_context(connect(server))
        time.sleep(0.2)  # the server has accepted them all

        with connect(server) as one_too_many:
            refused, _ = until_closed(one_too_many)
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as client:
            other = client.get(f"{server.base_url}/healthz")

    status, error = status_and_error(refused)
    assert (status, error["code"]) == (429, "too_many_connections")
    assert other.status_code == 200
    time.sleep(0.2)  # the held connections are closed, and counted out
    assert httpx.get(f"{server.base_url}/healthz").status_code == 200


def test_websocket_upgrades_do_not_use_up_an_addresss_connections(server: RunningServer) -> None:
    for _ in range(PER_CLIENT + 2):
        with connect(server) as sock:
            sock.sendall(
                b"GET /healthz HTTP/1.1\r\nHost: corral\r\nConnection: Upgrade\r\n"
                b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            )
            sock.recv(65536)
    time.sleep(0.2)  # closed, and counted out

    assert httpx.get(f"{server.base_url}/healthz").status_code == 200
