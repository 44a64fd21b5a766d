"""Turning a serving result into an HTTP response, and cancelling work nobody waits for."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from corral.api.jsonresponse import json_response
from corral.errors import ClientClosedRequest

T = TypeVar("T")
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def respond(result: BaseModel | AsyncIterator[bytes]) -> Response:
    if isinstance(result, BaseModel):
        return json_response(result.model_dump(mode="json"))
    return StreamingResponse(result, media_type="text/event-stream", headers=_SSE_HEADERS)


async def unless_client_leaves(request: Request, work: Awaitable[T]) -> T:
    """Await `work`, cancelling it if the client disconnects first.

    Starlette stops a streaming response when its client goes away, but a handler that is still
    computing a whole answer keeps running; cancelling it frees the model for the next request.
    Call this after the body has been read: from then on `receive()` only reports a disconnect.
    """
    job = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({job, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if job.done():
        return job.result()
    job.cancel()
    raise ClientClosedRequest("The client closed the connection before the answer was ready.")


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
