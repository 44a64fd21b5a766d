"""A connection's writes within one turn of the event loop go to the client in one piece."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from corral.server.coalesce import CoalescingTransport


class RecordingTransport:
    """What a socket would have been asked to send, call by call."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closing = False
        self.extra = {"peername": ("10.0.0.1", 5000)}

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str) -> Any:
        return self.extra.get(name)


def wrap(inner: RecordingTransport) -> CoalescingTransport:
    return CoalescingTransport(cast(asyncio.Transport, inner), asyncio.get_running_loop())


async def test_a_response_head_and_body_written_in_one_turn_are_sent_together() -> None:
    inner = RecordingTransport()
    transport = wrap(inner)

    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    transport.write(b"{}")
    before_the_turn_ends = list(inner.sent)
    await asyncio.sleep(0)

    assert before_the_turn_ends == []
    assert inner.sent == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]


async def test_writes_of_later_turns_are_sent_in_order_each_on_their_own() -> None:
    inner = RecordingTransport()
    transport = wrap(inner)

    for event in (b"data: 1\n\n", b"data: 2\n\n"):
        transport.write(event)
        await asyncio.sleep(0)

    assert inner.sent == [b"data: 1\n\n", b"data: 2\n\n"]


async def test_closing_sends_what_was_written_first_and_nothing_goes_to_a_closed_socket() -> None:
    inner = RecordingTransport()
    transport = wrap(inner)

    transport.write(b"bye")
    transport.close()
    transport.write(b"too late")
    await asyncio.sleep(0)

    assert inner.sent == [b"bye"]
    assert transport.is_closing()
    assert transport.get_extra_info("peername") == ("10.0.0.1", 5000)
