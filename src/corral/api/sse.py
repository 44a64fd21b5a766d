"""Server-Sent Events in OpenAI's framing: `data: {json}\n\n`, ending with `data: [DONE]`."""

from __future__ import annotations

from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"


def event(payload: Any) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"
