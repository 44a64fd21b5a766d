"""Answers nobody waits for: a client that leaves cancels the work; quick ones are not watched.
Streams: frames made together leave together, a slow stream's frames leave as they come."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from starlette.types import Message

from corral.api.streaming import WATCH_AFTER_S, respond, until_client_leaves
from corral.errors import ClientClosedRequest


async def test_a_quick_answer_never_watches_the_connection() -> None:
    async def receive() -> Message:
        raise AssertionError("the connection was watched")

    async def answer() -> str:
        return "done"

    assert await until_client_leaves(receive, answer()) == "done"
    await asyncio.sleep(WATCH_AFTER_S * 2)  # nothing was left behind to start later


async def test_a_client_leaving_a_slow_answer_cancels_it() -> None:
    async def receive() -> Message:
        await asyncio.sleep(0.05)
        return {"type": "http.disconnect"}

    finished = False

    async def slow_answer() -> None:
        nonlocal finished
        await asyncio.sleep(5)
        finished = True

    started = time.monotonic()
    with pytest.raises(ClientClosedRequest):
        await until_client_leaves(receive, slow_answer())

    assert not finished
    assert time.monotonic() - started < 1


async def test_a_cancel_from_elsewhere_stays_a_cancel() -> None:
    async def receive() -> Message:
        await asyncio.sleep(10)
        return {"type": "http.disconnect"}

    task = asyncio.ensure_future(until_client_leaves(receive, asyncio.sleep(5)))
    await asyncio.sleep(WATCH_AFTER_S * 2)  # the watch is running by now
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task


class Client:
    """The ASGI side of one streamed response: what was sent, and when the socket is full."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.ended = False
        self.got_body = asyncio.Event()
        self.drained = asyncio.Event()
        self.drained.set()

    async def receive(self) -> Message:
        await asyncio.sleep(10)
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if message["type"] != "http.response.body":
            return
        await self.drained.wait()
        self.bodies.append(message["body"])
        self.ended = not message.get("more_body", False)
        self.got_body.set()


async def stream_to(client: Client, frames: AsyncIterator[bytes]) -> None:
    response = await respond(frames)
    await response({"type": "http"}, client.receive, client.send)


async def test_frames_made_together_leave_in_one_write() -> None:
    async def frames() -> AsyncIterator[bytes]:
        for n in range(5):
            yield b"data: %d\n\n" % n

    client = Client()
    await stream_to(client, frames())

    assert client.bodies == [b"".join(b"data: %d\n\n" % n for n in range(5))]
    assert client.ended


async def test_a_slow_streams_frames_leave_as_they_are_made() -> None:
    client = Client()

    async def frames() -> AsyncIterator[bytes]:
        yield b"data: first\n\n"
        # The next token comes only once the client has the first one.
        await asyncio.wait_for(client.got_body.wait(), timeout=5)
        yield b"data: second\n\n"

    await stream_to(client, frames())

    assert client.bodies[0] == b"data: first\n\n"
    assert b"".join(client.bodies) == b"data: first\n\ndata: second\n\n"


async def test_a_client_that_reads_slowly_holds_the_stream_back() -> None:
    client = Client()
    client.drained.clear()  # the socket is full until the test says otherwise
    made = 0

    async def frames() -> AsyncIterator[bytes]:
        nonlocal made
        for n in range(100):
            made += 1
            yield b"data: %d\n\n" % n
            await asyncio.sleep(0)  # each frame in a turn of its own

    streaming = asyncio.create_task(stream_to(client, frames()))
    await asyncio.sleep(0.05)
    made_while_full = made
    client.drained.set()
    await streaming

    assert made_while_full <= 3
    assert b"".join(client.bodies) == b"".join(b"data: %d\n\n" % n for n in range(100))
