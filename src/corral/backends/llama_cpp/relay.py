"""Handing a generation's events from its thread to the caller's stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from corral.backends.base import Finished, GenerationResult, StreamEvent, TextDelta, ToolCallDelta
from corral.backends.llama_cpp import engine
from corral.cancellation import Cancellation


def final_event(done: asyncio.Future[engine.GenerationOutcome]) -> StreamEvent | BaseException:
    if done.cancelled():
        return asyncio.CancelledError()
    error = done.exception()
    if error is not None:
        return error
    outcome = done.result()
    return Finished("stop" if outcome.reason == "stop" else "length", outcome.usage)


async def replay(result: GenerationResult) -> AsyncIterator[StreamEvent]:
    for index, call in enumerate(result.tool_calls or []):
        yield ToolCallDelta(index, call.id, call.name, call.arguments)
    if result.text:
        yield TextDelta(result.text)
    yield Finished(result.finish_reason, result.usage)


async def relay(
    events: asyncio.Queue[StreamEvent | BaseException], cancel: Cancellation
) -> AsyncIterator[StreamEvent]:
    try:
        while True:
            event = await events.get()
            if isinstance(event, BaseException):
                raise event
            yield event
            if isinstance(event, Finished):
                return
    finally:
        # Reached on normal end, on error, and when the client goes away mid-stream.
        cancel.set()
