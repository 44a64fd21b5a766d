"""A chat given as JSON messages (`[{"author", "text", "time"?}]`), read into message lines
like a pasted export (`chat_export`), within the same `TaskInputLimits`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from corral.errors import InvalidRequest
from corral.tasks.chat_export import DEFAULT_LIMITS, classify, quote, too_long, too_many
from corral.tasks.inputs import ChatMessageLine
from corral.tasks.limits import TaskInputLimits


def parse_messages(
    items: list[dict[str, Any]], limits: TaskInputLimits = DEFAULT_LIMITS
) -> list[ChatMessageLine]:
    """Messages given as JSON: `[{"author"|"from"|"sender", "text"|"content", "time"?}]`.

    `time` is ISO 8601 or seconds since the epoch (UTC); a message without an author is a
    system line; `kind` may be given, otherwise it is read from the text.
    """
    if not isinstance(items, list) or not items:
        raise InvalidRequest("the chat has no messages: send a non-empty list", param="messages")
    if len(items) > limits.max_messages:
        raise too_many(limits, "messages")
    return [_message(index, item, limits) for index, item in enumerate(items, start=1)]


def _message(index: int, item: object, limits: TaskInputLimits) -> ChatMessageLine:
    param = f"messages[{index - 1}]"
    if not isinstance(item, dict):
        raise InvalidRequest(f"message {index} is not an object", param=param)
    author = _first(item, ("author", "from", "sender"))
    text = _text(_first(item, ("text", "content", "message")))
    if (author is not None and not isinstance(author, str)) or text is None:
        raise InvalidRequest(
            f"message {index} needs an author (a string) and a text"
            ' ("author"/"from"/"sender" and "text"/"content")',
            param=param,
        )
    if len(text) > limits.max_message_chars:
        raise too_long(f"message {index}", limits, f"{param}.text")
    if author is not None and len(author.strip()) > limits.max_author_chars:
        raise InvalidRequest(
            f"message {index}: the author's name has more than {limits.max_author_chars:,}"
            " characters (task_inputs.max_author_chars)",
            param=f"{param}.author",
            code="author_too_long",
        )
    time, kind = _json_time(index, item.get("time")), item.get("kind")
    if author is None or not author.strip() or kind == "system":
        return ChatMessageLine(index, time, None, text, "system")
    if kind not in ("text", "media", "deleted"):
        kind = classify(text)
    return ChatMessageLine(index, time, author.strip(), text, kind)


def _first(item: dict[str, Any], keys: Sequence[str]) -> Any:
    return next((item[key] for key in keys if item.get(key) is not None), None)


def _text(value: object) -> str | None:
    """A string, or a list of strings and {"text": ...} parts (Telegram's rich text)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = [
            p if isinstance(p, str) else p.get("text") for p in value if isinstance(p, str | dict)
        ]
        return "".join(p for p in parts if isinstance(p, str))
    return None


def _json_time(index: int, value: object) -> dt.datetime | None:
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return dt.datetime.fromtimestamp(value, tz=dt.UTC)
        if isinstance(value, str):
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        pass
    raise InvalidRequest(
        f"message {index} has a time that is neither ISO 8601 nor seconds since the epoch:"
        f" {quote(value) if isinstance(value, str) else type(value).__name__}",
        param=f"messages[{index - 1}].time",
    )
