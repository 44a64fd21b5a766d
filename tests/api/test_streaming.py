"""Answers nobody waits for: a client that leaves cancels the work; quick ones are not watched."""

from __future__ import annotations

import asyncio
import time

import pytest
from starlette.types import Message

from corral.api.streaming import WATCH_AFTER_S, until_client_leaves
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
