"""Credentials never shown: the user and password written into a URL (`https://user:secret@host`)
are masked wherever a URL is printed (readiness details, `corral config show`, errors, logs)."""

from __future__ import annotations

import re
from typing import Any

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s]*@")
"""A scheme's `//` and everything up to the last `@` before the host: the userinfo."""
MASK = "***"


def redact(text: str) -> str:
    """`text` with the userinfo of every URL in it replaced by `***`."""
    return _USERINFO.sub(rf"\1{MASK}@", text)


def redact_all(value: Any) -> Any:
    """A JSON-like value (dicts, lists, strings) with every string in it redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_all(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_all(item) for item in value]
    return value
