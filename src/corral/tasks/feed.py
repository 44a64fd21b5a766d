"""Read a feed of posts from JSON, with errors that name the post and the field at fault.

The input is a JSON list of posts, or an object with a "posts" list. Each post has:

- `id`: a non-empty string or a whole number (kept as text); ids must be unique;
- `author`: a non-empty string;
- `text`: a string (may be empty, for a photo with no caption);
- `time` (optional, may be null): an ISO 8601 time; one without an offset is taken as UTC;
- `reactions` (optional): an object {emoji or name: count} with whole, non-negative counts;
- `comments` (optional): a list of strings (objects with a "text" string are accepted too).

Other fields are ignored. Errors say where: "post 7: 'author' is empty" (posts count from 1).

The small readers below (`decode_text`, `json_posts`, `parse_time`, ...) are shared with the
creator history reader (`corral.tasks.creator`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping

from corral.errors import InvalidRequest
from corral.tasks.inputs import Post

_WHOLE = re.compile(r"[+-]?[0-9]+")


def read_feed(data: bytes) -> list[Post]:
    """Parse a feed; raises `InvalidRequest` naming the post and field at fault."""
    items = json_posts(decode_text(data, "feed"), "feed")
    posts = [_post(f"post {number}", item) for number, item in enumerate(items, 1)]
    check_unique_ids((f"post {number}", post.id) for number, post in enumerate(posts, 1))
    return posts


def _post(where: str, item: object) -> Post:
    record = as_record(where, item)
    for name in ("id", "author", "text"):
        if name not in record:
            raise InvalidRequest(f"{where}: missing '{name}'")
    raw_time = record.get("time")
    return Post(
        id=parse_id(where, record["id"]),
        author=_text(where, "author", record["author"], allow_empty=False),
        time=None if raw_time is None else parse_time(where, "time", raw_time),
        text=_text(where, "text", record["text"], allow_empty=True),
        reactions=_reactions(where, record.get("reactions")),
        comments=_comments(where, record.get("comments")),
    )


def _text(where: str, name: str, value: object, *, allow_empty: bool) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"{where}: '{name}' is not a string ({_kind(value)})")
    if not allow_empty and not value.strip():
        raise InvalidRequest(f"{where}: '{name}' is empty")
    return value.strip() if not allow_empty else value


def _reactions(where: str, value: object) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(f"{where}: 'reactions' is not an object of counts ({_kind(value)})")
    reactions: dict[str, int] = {}
    for name, count in value.items():
        if not str(name).strip():
            raise InvalidRequest(f"{where}: a reaction has an empty name")
        reactions[str(name)] = parse_count(where, f"reactions.{name}", count)
    return reactions


def _comments(where: str, value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequest(f"{where}: 'comments' is not a list ({_kind(value)})")
    comments: list[str] = []
    for number, comment in enumerate(value, 1):
        if isinstance(comment, dict) and isinstance(comment.get("text"), str):
            comment = comment["text"]
        if not isinstance(comment, str):
            raise InvalidRequest(f"{where}: comment {number} is not text ({_kind(comment)})")
        comments.append(comment)
    return comments


def decode_text(data: bytes, what: str) -> str:
    """UTF-8 text of an upload (a byte-order mark is dropped); empty input is an error."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"the {what} is not UTF-8 text (bad byte at {exc.start})") from exc
    if not text.strip():
        raise InvalidRequest(f"the {what} is empty")
    return text


def json_posts(text: str, what: str) -> list[object]:
    """The posts of a JSON document: a list, or an object with a "posts" list; never empty."""
    try:
        document: object = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"the {what} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from exc
    except RecursionError as exc:
        raise InvalidRequest(f"the {what} is JSON nested too deeply") from exc
    if isinstance(document, dict) and "posts" in document:
        document = document["posts"]
    if not isinstance(document, list):
        raise InvalidRequest(
            f'the {what} must be a JSON list of posts or an object with a "posts" list, '
            f"not {_kind(document)}"
        )
    if not document:
        raise InvalidRequest(f"the {what} has no posts")
    return document


def as_record(where: str, item: object) -> Mapping[str, object]:
    """A JSON post as a mapping, or an error naming what it is instead."""
    if not isinstance(item, dict):
        raise InvalidRequest(f"{where}: expected an object, got {_kind(item)}")
    return item


def parse_id(where: str, value: object) -> str:
    """A post id: a non-empty string (stripped) or a whole number, as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise InvalidRequest(f"{where}: 'id' is not a string or a whole number ({_kind(value)})")
    if not value.strip():
        raise InvalidRequest(f"{where}: 'id' is empty")
    return value.strip()


def parse_time(where: str, name: str, value: object) -> dt.datetime:
    """An ISO 8601 time ("2024-03-01T19:05:00+01:00", "...Z", a bare date); no offset: UTC."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{where}: '{name}' is not an ISO 8601 time string ({_kind(value)})")
    try:
        time = dt.datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidRequest(f"{where}: '{name}' is not an ISO 8601 time ({value!r})") from exc
    return time if time.tzinfo is not None else time.replace(tzinfo=dt.UTC)


def parse_count(where: str, name: str, value: object) -> int:
    """A whole, non-negative count from a JSON number or a string of digits."""
    if isinstance(value, str):
        if not value.strip():
            raise InvalidRequest(f"{where}: '{name}' is empty")
        if not _WHOLE.fullmatch(value.strip()):
            raise InvalidRequest(f"{where}: '{name}' is not a whole number ({value!r})")
        value = int(value.strip())
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidRequest(f"{where}: '{name}' is not a whole number ({_kind(value)})")
    if value < 0:
        raise InvalidRequest(f"{where}: '{name}' is negative ({value})")
    return value


def check_unique_ids(ids: Iterable[tuple[str, str]]) -> None:
    """Raise naming the first id that repeats, and where it was first seen."""
    seen: dict[str, str] = {}
    for where, post_id in ids:
        if post_id in seen:
            raise InvalidRequest(f"{where}: id {post_id!r} repeats the id of {seen[post_id]}")
        seen[post_id] = where


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, dict):
        return "an object"
    return "a list" if isinstance(value, list) else type(value).__name__
