"""Server-Sent Events in OpenAI's framing: `data: {json}\n\n`, ending with `data: [DONE]`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from corral.api.common import usage_out
from corral.backends.base import Usage

DONE = b"data: [DONE]\n\n"


def event(payload: Any) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


@dataclass(frozen=True, slots=True)
class ChunkWriter:
    """Frames the chunks of one streamed completion, all sharing id, object, created, model."""

    id: str
    object: str
    model: str
    include_usage: bool
    created: int = field(default_factory=lambda: int(time.time()))

    def choice(self, choice: dict[str, Any]) -> bytes:
        body = self._envelope([choice])
        if self.include_usage:
            body["usage"] = None  # OpenAI sends null usage on every chunk but the last
        return event(body)

    def usage(self, usage: Usage) -> bytes:
        body = self._envelope([])
        body["usage"] = usage_out(usage)
        return event(body)

    def _envelope(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": self.object,
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
