"""Read a feed of posts from JSON, with errors that name the post and the field at fault.

The input is a JSON list of posts, or an object with a "posts" list. Each post has:

- `id`: a non-empty string or a whole number (kept as text); ids must be unique;
- `author`: a non-empty string;
- `text`: a string (may be empty, for a photo with no caption);
- `time` (optional, may be null): an ISO 8601 time; one without an offset is taken as UTC;
- `reactions` (optional): an object {emoji or name: count} with whole, non-negative counts;
- `comments` (optional): a list of strings (objects with a "text" string are accepted too).

Other fields are ignored. Errors say where: "post 7: 'author' is empty" (posts count from 1),
and name the parameter as the API has it (`posts[6].author`). Sizes are bounded by
`TaskInputLimits` (posts, fields per post, characters per field, counts); an error quotes at
most `QUOTE_CHARS` characters of a value.

The small readers below (`decode_text`, `json_posts`, `parse_time`, ...) are shared with the
creator history reader (`corral.tasks.creator`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence, Sized
from typing import NoReturn

from corral.errors import InvalidRequest
from corral.tasks.inputs import Post
from corral.tasks.limits import TaskInputLimits

_WHOLE = re.compile(r"[+-]?[0-9]+")
_INT_DIGITS = 4000  # below Python's limit on int() of a string (4,300 digits by default)
QUOTE_CHARS = 60
"""Of a value quoted in an error: the error of a huge value stays small."""
DEFAULT_LIMITS = TaskInputLimits()


def read_feed(data: bytes, limits: TaskInputLimits = DEFAULT_LIMITS) -> list[Post]:
    """Parse a feed; raises `InvalidRequest` naming the post and field at fault."""
    return feed_posts(json_posts(decode_text(data, "feed"), "feed"), limits)


def feed_posts(items: Sequence[object], limits: TaskInputLimits = DEFAULT_LIMITS) -> list[Post]:
    """The posts of an already decoded JSON list."""
    check_post_count(items, limits)
    posts = [_post(f"post {number}", item, limits) for number, item in enumerate(items, 1)]
    check_unique_ids((f"post {number}", post.id) for number, post in enumerate(posts, 1))
    return posts


def _post(where: str, item: object, limits: TaskInputLimits) -> Post:
    record = as_record(where, item, limits)
    for name in ("id", "author", "text"):
        if name not in record:
            raise InvalidRequest(f"{where}: missing '{name}'", param=param_of(where))
    raw_time = record.get("time")
    return Post(
        id=parse_id(where, record["id"]),
        author=_text(where, "author", record["author"], limits, allow_empty=False),
        time=None if raw_time is None else parse_time(where, "time", raw_time),
        text=_text(where, "text", record["text"], limits, allow_empty=True),
        reactions=_reactions(where, record.get("reactions"), limits),
        comments=_comments(where, record.get("comments"), limits),
    )


def _text(
    where: str, name: str, value: object, limits: TaskInputLimits, *, allow_empty: bool
) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(
            f"{where}: '{name}' is not a string ({_kind(value)})", param=param_of(where, name)
        )
    check_field(where, name, value, limits)
    if not allow_empty and not value.strip():
        raise InvalidRequest(f"{where}: '{name}' is empty", param=param_of(where, name))
    return value.strip() if not allow_empty else value


def _reactions(where: str, value: object, limits: TaskInputLimits) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(
            f"{where}: 'reactions' is not an object of counts ({_kind(value)})",
            param=param_of(where, "reactions"),
        )
    if len(value) > limits.max_columns:
        raise InvalidRequest(
            f"{where}: {len(value):,} reactions; at most {limits.max_columns:,} kinds "
            "(task_inputs.max_columns)",
            param=param_of(where, "reactions"),
            code="too_many_fields",
        )
    reactions: dict[str, int] = {}
    for name, count in value.items():
        if not str(name).strip():
            raise InvalidRequest(f"{where}: a reaction has an empty name")
        check_field(where, "reactions", str(name), limits)
        reactions[str(name)] = parse_count(where, f"reactions.{name}", count, limits)
    return reactions


def _comments(where: str, value: object, limits: TaskInputLimits) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequest(
            f"{where}: 'comments' is not a list ({_kind(value)})",
            param=param_of(where, "comments"),
        )
    comments: list[str] = []
    for number, comment in enumerate(value, 1):
        if isinstance(comment, dict) and isinstance(comment.get("text"), str):
            comment = comment["text"]
        if not isinstance(comment, str):
            raise InvalidRequest(
                f"{where}: comment {number} is not text ({_kind(comment)})",
                param=param_of(where, f"comments[{number - 1}]"),
            )
        check_field(where, f"comments[{number - 1}]", comment, limits)
        comments.append(comment)
    return comments


def param_of(where: str, name: str | None = None) -> str:
    """The request parameter at a reader's place: "post 3" is `posts[2]`, a CSV line `csv`."""
    kind, _, number = where.partition(" ")
    if kind != "post" or not number.isdigit():
        return "csv"
    base = f"posts[{int(number) - 1}]"
    return f"{base}.{name}" if name else base


def check_post_count(items: Sized, limits: TaskInputLimits, param: str = "posts") -> None:
    if len(items) > limits.max_posts:
        raise InvalidRequest(
            f"{len(items):,} posts; at most {limits.max_posts:,} (task_inputs.max_posts)",
            param=param,
            code="too_many_posts",
        )


def check_field(where: str, name: str, value: str, limits: TaskInputLimits) -> None:
    """A field's text within `max_field_chars`."""
    if len(value) > limits.max_field_chars:
        raise InvalidRequest(
            f"{where}: '{name}' has {len(value):,} characters; at most "
            f"{limits.max_field_chars:,} (task_inputs.max_field_chars)",
            param=param_of(where, name),
            code="field_too_long",
        )


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
        document: object = load_json(text)
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


def load_json(text: str) -> object:
    """`json.loads`, except that a whole number too long for `int()` (thousands of digits)
    stays a string of its digits: a count reader then refuses it naming where it is, instead
    of the whole document failing with Python's ValueError."""
    return json.loads(text, parse_int=_whole)


def _whole(digits: str) -> int | str:
    return digits if len(digits) > _INT_DIGITS else int(digits)


def as_record(
    where: str, item: object, limits: TaskInputLimits = DEFAULT_LIMITS
) -> Mapping[str, object]:
    """A JSON post as a mapping, or an error naming what it is instead."""
    if not isinstance(item, dict):
        raise InvalidRequest(
            f"{where}: expected an object, got {_kind(item)}", param=param_of(where)
        )
    if len(item) > limits.max_columns:
        raise InvalidRequest(
            f"{where}: {len(item):,} fields; at most {limits.max_columns:,}"
            " (task_inputs.max_columns)",
            param=param_of(where),
            code="too_many_fields",
        )
    return item


def parse_id(where: str, value: object) -> str:
    """A post id: a non-empty string (stripped) or a whole number, as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > 64:
            raise InvalidRequest(
                f"{where}: 'id' is too long for a number id (send it as a string)",
                param=param_of(where, "id"),
            )
        return str(value)
    if not isinstance(value, str):
        raise InvalidRequest(
            f"{where}: 'id' is not a string or a whole number ({_kind(value)})",
            param=param_of(where, "id"),
        )
    if not value.strip():
        raise InvalidRequest(f"{where}: 'id' is empty", param=param_of(where, "id"))
    return value.strip()


def parse_time(where: str, name: str, value: object) -> dt.datetime:
    """An ISO 8601 time ("2024-03-01T19:05:00+01:00", "...Z", a bare date); no offset: UTC."""
    if not isinstance(value, str):
        raise InvalidRequest(
            f"{where}: '{name}' is not an ISO 8601 time string ({_kind(value)})",
            param=param_of(where, name),
        )
    try:
        time = dt.datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidRequest(
            f"{where}: '{name}' is not an ISO 8601 time ({_quoted(value)})",
            param=param_of(where, name),
        ) from exc
    return time if time.tzinfo is not None else time.replace(tzinfo=dt.UTC)


def parse_count(
    where: str, name: str, value: object, limits: TaskInputLimits = DEFAULT_LIMITS
) -> int:
    """A whole, non-negative count up to `max_count`, from a JSON number or a string of digits."""
    param = param_of(where, name)
    if isinstance(value, str):
        digits = value.strip()
        if not digits:
            raise InvalidRequest(f"{where}: '{name}' is empty", param=param)
        if not _WHOLE.fullmatch(digits):
            raise InvalidRequest(
                f"{where}: '{name}' is not a whole number ({_quoted(value)})", param=param
            )
        # Compared as text first: int() of thousands of digits is slow, and refused by Python.
        if len(digits.lstrip("+-").lstrip("0")) > len(str(limits.max_count)):
            _too_large(where, name, limits)
        value = int(digits)
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidRequest(
            f"{where}: '{name}' is not a whole number ({_kind(value)})", param=param
        )
    if value < 0:
        shown = f" ({value})" if -value <= limits.max_count else ""
        raise InvalidRequest(f"{where}: '{name}' is negative{shown}", param=param)
    if value > limits.max_count:
        _too_large(where, name, limits)
    return value


def _too_large(where: str, name: str, limits: TaskInputLimits) -> NoReturn:
    raise InvalidRequest(
        f"{where}: '{name}' is too large: at most {limits.max_count:,} (task_inputs.max_count)",
        param=param_of(where, name),
        code="number_too_large",
    )


def check_unique_ids(ids: Iterable[tuple[str, str]]) -> None:
    """Raise naming the first id that repeats, and where it was first seen."""
    seen: dict[str, str] = {}
    for where, post_id in ids:
        if post_id in seen:
            raise InvalidRequest(
                f"{where}: id {_quoted(post_id)} repeats the id of {seen[post_id]}",
                param=param_of(where, "id"),
            )
        seen[post_id] = where


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float):
        return f"the number {value!r}"
    if isinstance(value, int):  # repr() of a 5,000-digit int raises ValueError
        return "a number" if value.bit_length() > 64 else f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {_quoted(value)}"
    if isinstance(value, dict):
        return "an object"
    return "a list" if isinstance(value, list) else type(value).__name__


def _quoted(value: str) -> str:
    """A value for an error message: its repr, cut to `QUOTE_CHARS` characters."""
    return repr(value if len(value) <= QUOTE_CHARS else value[:QUOTE_CHARS] + "…")
