"""Checking a file against its purpose before it is stored.

Fine-tuning and evaluation files are JSONL: UTF-8, one JSON object per line (blank lines are
skipped). A fine-tuning line is one chat example in OpenAI's format: a `messages` list of
system, user, assistant and tool turns with at least one assistant turn, where an assistant
turn may carry `weight` 0 or 1 (0: not trained on). An evaluation line is a JSON object, either
`{"item": {...}}` or the item itself. A bad file is refused naming its first bad lines.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corral.errors import InvalidRequest

PURPOSES = ("fine-tune", "evals", "assistants", "batch", "user_data")
CHECKED = ("fine-tune", "evals")
"""The purposes whose content is checked; the others are stored as they come."""
ROLES = ("system", "user", "assistant", "tool")
SHOWN = 10
"""Bad lines named in a refusal; the rest are counted."""


@dataclass(frozen=True, slots=True)
class Summary:
    """What a checked file holds: its JSON lines, and for fine-tuning its examples (equal)."""

    lines: int
    examples: int | None = None

    def as_dict(self) -> dict[str, int]:
        out = {"lines": self.lines}
        if self.examples is not None:
            out["examples"] = self.examples
        return out


class InvalidFile(InvalidRequest):
    default_code = "invalid_file"


def check_file(path: Path, purpose: str) -> Summary | None:
    """The file's summary if its purpose is checked and it passes; None if not checked."""
    if purpose not in CHECKED:
        return None
    with path.open("rb") as lines:
        return check_lines(lines, purpose)


def check_lines(lines: Iterable[bytes], purpose: str) -> Summary:
    check = fine_tune_problem if purpose == "fine-tune" else eval_problem
    count = 0
    problems: list[tuple[int, str]] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        count += 1
        problem = _line_problem(raw, check)
        if problem is not None:
            problems.append((number, problem))
    if problems:
        raise _refusal(purpose, problems, count)
    if count == 0:
        raise InvalidFile(
            f"The {purpose} file is empty: it needs one JSON object per line.", param="file"
        )
    return Summary(count, count if purpose == "fine-tune" else None)


def _line_problem(raw: bytes, check: Any) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8"
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return "not valid JSON"
    if not isinstance(value, dict):
        return "not a JSON object"
    problem: str | None = check(value)
    return problem


def fine_tune_problem(example: dict[str, Any]) -> str | None:
    """What is wrong with one chat example, or None."""
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        return "no 'messages' list"
    for index, message in enumerate(messages):
        problem = _message_problem(message)
        if problem is not None:
            return f"messages[{index}]: {problem}"
    if not any(message["role"] == "assistant" for message in messages):
        return "no assistant message"
    return None


def _message_problem(message: Any) -> str | None:
    if not isinstance(message, dict):
        return "not an object"
    role = message.get("role")
    if role not in ROLES:
        return f"role must be one of {', '.join(ROLES)}"
    content = message.get("content")
    calls = message.get("tool_calls") or message.get("function_call")
    if content is None and not (role == "assistant" and calls):
        return "no 'content'"
    if content is not None and not isinstance(content, str | list):
        return "'content' must be a string or a list of parts"
    if "weight" in message:
        if role != "assistant":
            return "'weight' is only for assistant messages"
        if message["weight"] not in (0, 1) or isinstance(message["weight"], bool):
            return "'weight' must be 0 or 1"
    return None


def eval_problem(row: dict[str, Any]) -> str | None:
    if "item" in row and not isinstance(row["item"], dict):
        return "'item' must be a JSON object"
    return None


def _refusal(purpose: str, problems: list[tuple[int, str]], count: int) -> InvalidFile:
    named = "; ".join(f"line {number}: {problem}" for number, problem in problems[:SHOWN])
    more = len(problems) - SHOWN
    tail = f"; and {more} more bad lines" if more > 0 else ""
    return InvalidFile(
        f"The file is not valid {purpose} JSONL ({len(problems)} of {count} lines are bad): "
        f"{named}{tail}.",
        param="file",
    )
