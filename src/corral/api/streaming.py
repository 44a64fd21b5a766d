"""Turning a serving result into an HTTP response: a JSON body or an SSE stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from corral.api.jsonresponse import json_response

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def respond(result: BaseModel | AsyncIterator[bytes]) -> Response:
    if isinstance(result, BaseModel):
        return json_response(result.model_dump(mode="json"))
    return StreamingResponse(result, media_type="text/event-stream", headers=_SSE_HEADERS)
