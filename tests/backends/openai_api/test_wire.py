"""`Wire.events`: server-sent events however the bytes happen to arrive."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from corral.backends.openai_api.wire import MAX_LINE_BYTES, StreamError, Wire
from tests.providers.server import serving


class PiecesServer:
    """Answers every POST with `pieces` as one streamed body, each piece sent on its own
    (a pause between them), so the client reads them one by one."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for piece in self.pieces:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            await asyncio.sleep(0.005)
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[PiecesServer, str]]:
    server = PiecesServer()
    with serving(server) as url:
        yield server, url


async def events_of(running: tuple[PiecesServer, str], *pieces: bytes) -> list[Any]:
    server, url = running
    server.pieces = list(pieces)
    wire = Wire(f"{url}/v1", "key")
    try:
        return [event async for event in await wire.events("/chat/completions", {})]
    finally:
        await wire.close()


async def test_events_split_anywhere_come_out_whole(running: tuple[PiecesServer, str]) -> None:
    body = (
        b'data: {"n": 1}\r\n\r\n'  # CRLF line ends
        b': a comment\nevent: chunk\ndata: {"n"\ndata: : 2}\n\n'  # two data lines make one
        b"data: [DONE]\n\n"
    )
    # Cut in two at many places, and one byte at a time.
    cuts = [(body[:i], body[i:]) for i in range(1, len(body))]
    for pieces in [*cuts[::7], cuts[-1], tuple(body[i : i + 1] for i in range(len(body)))]:
        assert await events_of(running, *pieces) == [{"n": 1}, {"n": 2}], pieces


async def test_nothing_after_done_is_read(running: tuple[PiecesServer, str]) -> None:
    events = await events_of(running, b'data: {"n": 1}\n\ndata: [DONE]\n\ndata: {"n": 2}\n\n')

    assert events == [{"n": 1}]


async def test_an_error_event_ends_the_stream_with_its_message(
    running: tuple[PiecesServer, str],
) -> None:
    body = b'data: {"n": 1}\n\ndata: {"error": {"message": "overloaded"}}\n\n'

    with pytest.raises(StreamError, match="overloaded"):
        await events_of(running, body)


async def test_a_line_that_never_ends_is_refused(running: tuple[PiecesServer, str]) -> None:
    block = b"x" * 2**16
    pieces = [b"data: ", *[block] * (MAX_LINE_BYTES // len(block) + 1)]

    with pytest.raises(StreamError, match="longer than"):
        await events_of(running, *pieces)
