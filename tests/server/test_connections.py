"""The count of open connections per client address, and the refusal a client gets."""

from __future__ import annotations

import json

from corral.errors import ServerAtCapacity, TooManyConnections
from corral.server.connections import ConnectionGuard, raw_error_response
from corral.server.limits import ConnectionLimits


def test_an_address_at_its_cap_is_refused_until_one_of_its_connections_closes() -> None:
    guard = ConnectionGuard(ConnectionLimits(max_per_client=2, max_connections=10))

    first, second = guard.admit("10.0.0.1"), guard.admit("10.0.0.1")
    third = guard.admit("10.0.0.1")
    neighbour = guard.admit("10.0.0.2")
    guard.release("10.0.0.1")
    after_one_closed = guard.admit("10.0.0.1")

    assert (first, second, neighbour, after_one_closed) == (None, None, None, None)
    assert isinstance(third, TooManyConnections) and third.status_code == 429


def test_the_server_wide_cap_holds_across_addresses_and_refusals_are_not_counted() -> None:
    guard = ConnectionGuard(ConnectionLimits(max_per_client=0, max_connections=2))

    admitted = [guard.admit(f"10.0.0.{n}") for n in (1, 2)]
    refused = [guard.admit("10.0.0.3") for _ in range(5)]
    guard.release("10.0.0.1")

    assert admitted == [None, None]
    assert all(isinstance(error, ServerAtCapacity) for error in refused)
    assert guard.admit("10.0.0.3") is None


def test_a_refusal_is_a_complete_response_in_openais_envelope() -> None:
    raw = raw_error_response(ServerAtCapacity("Full; retry shortly."))

    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 503 Service Unavailable"
    assert {"connection: close", f"content-length: {len(body)}", "retry-after: 1"} <= set(lines)
    assert json.loads(body)["error"] == {
        "message": "Full; retry shortly.",
        "type": "overloaded_error",
        "param": None,
        "code": "too_many_connections",
    }
