"""Task inputs built to be costly: each is read in linear time or refused at once by a
`task_inputs` limit with a 400 naming the parameter, and an error never echoes the input."""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Callable

import pytest

from corral.errors import InvalidRequest
from corral.tasks.chat_export import parse_chat
from corral.tasks.chat_messages import parse_messages
from corral.tasks.creator import creator_csv_posts, creator_json_posts, read_creator_posts
from corral.tasks.feed import feed_posts
from corral.tasks.limits import TaskInputLimits

HEADER = "id,time,format,views,likes,comments,shares,text\n"
ROW = "p1,2024-01-02T17:25:00+01:00,text,{views},1,1,1,Hi\n"
POST: dict[str, object] = {"id": "p1", "time": "2024-01-02T17:25:00Z", "format": "text"}
POST |= {"text": "Hi", "views": 10, "likes": 1, "comments": 1, "shares": 1}
BOUND_S = 5.0
"""Generous: linear readers take well under a second on these; the old ones took minutes."""


def refused(read: Callable[[], object]) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        read()
    assert caught.value.status_code == 400
    assert len(caught.value.message) < 500
    return caught.value


# -- chats ------------------------------------------------------------------------------------

HOSTILE_CHATS: dict[str, str] = {
    # 600 MB once: every "Name: " prefix of the line was a copy of it
    "a line of 20,000 ': '": "31.12.24, 21:05 - " + "a: " * 20_000,
    # 10 s once: the German phrases rescanned the line after every " hat "
    "a German message of ' hat ' ending otherwise": "31.12.24, 21:05 - Anna: "
    + "x hat " * 10_000
    + "!",
    # 18 s once: each possible name was searched for in each system line
    "many names holding ': ' and system lines": "".join(
        f"31.12.24, 21:05 - A{i}: "
        + "b: " * 30
        + f"\n31.12.24, 21:06 - Z{i} added "
        + "y: " * 150
        + "\n"
        for i in range(1000)
    ),
}
MEMORY_BOUND = 50_000_000


@pytest.mark.parametrize("chat", HOSTILE_CHATS.values(), ids=HOSTILE_CHATS.keys())
def test_a_hostile_chat_is_read_in_linear_time_and_memory(chat: str) -> None:
    # Timed apart from the memory trace: tracing slows parsing several times over, and the
    # bound is there to catch the quadratic cases (10-18 s), not to measure speed.
    started = time.monotonic()
    parse_chat(chat)
    elapsed = time.monotonic() - started
    tracemalloc.start()
    try:
        parse_chat(chat)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert elapsed < BOUND_S
    assert peak < MEMORY_BOUND


def test_an_author_beyond_its_limit_is_not_read_as_one() -> None:
    limits = TaskInputLimits(max_author_chars=10)

    line, named = parse_chat(
        "31.12.24, 21:05 - A very long prefix: hi\n31.12.24, 21:06 - Anna: hi\n", limits
    )

    assert (line.author, line.kind) == (None, "system")
    assert named.author == "Anna"


def test_a_name_holding_a_colon_is_known_from_a_system_line() -> None:
    lines = parse_chat(
        "31.12.24, 21:00 - Anna added Dr. A: B\n31.12.24, 21:05 - Dr. A: B: see you\n"
    )

    assert (lines[1].author, lines[1].text) == ("Dr. A: B", "see you")


def test_too_many_messages_are_refused() -> None:
    chat = "31.12.24, 21:05 - Anna: hi\n" * 11

    error = refused(lambda: parse_chat(chat, TaskInputLimits(max_messages=10)))

    assert (error.param, error.code) == ("chat", "too_many_messages")


def test_a_message_too_long_is_refused_naming_its_line() -> None:
    chat = "31.12.24, 21:05 - Anna: hi\n" + "x" * 200 + "\n"

    error = refused(lambda: parse_chat(chat, TaskInputLimits(max_message_chars=100)))

    assert (error.param, error.code) == ("chat", "message_too_long")
    assert "line 2" in error.message


@pytest.mark.parametrize(
    ("items", "param", "code"),
    [
        ([{"author": "Anna", "text": "hi"}] * 11, "messages", "too_many_messages"),
        ([{"author": "A" * 101, "text": "hi"}], "messages[0].author", "author_too_long"),
        ([{"author": "Anna", "text": "x" * 101}], "messages[0].text", "message_too_long"),
    ],
)
def test_json_messages_beyond_a_limit_are_refused_naming_the_field(
    items: list[dict[str, str]], param: str, code: str
) -> None:
    limits = TaskInputLimits(max_messages=10, max_message_chars=100)

    error = refused(lambda: parse_messages(items, limits))

    assert (error.param, error.code) == (param, code)


# -- creator histories and feeds --------------------------------------------------------------


def test_a_header_of_26000_columns_is_refused_at_once_without_echoing_them() -> None:
    header = ",".join(f"column{i}" for i in range(26_000))
    started = time.monotonic()

    error = refused(lambda: creator_csv_posts(header + "\n" + "1," * 25_999 + "1\n"))

    assert time.monotonic() - started < BOUND_S
    assert (error.param, error.code) == ("csv", "too_many_columns")


def test_a_header_lacking_columns_lists_only_a_few_of_those_it_has() -> None:
    header = ",".join(f"column{i}" for i in range(99))

    error = refused(lambda: creator_csv_posts(header + "\n" + "1," * 98 + "1\n"))

    assert "column19" in error.message and "column20," not in error.message
    assert "and 79 more" in error.message


@pytest.mark.parametrize("views", ["9" * 5000, str(10**15 + 1)])
def test_a_count_beyond_max_count_is_refused_in_csv(views: str) -> None:
    error = refused(lambda: creator_csv_posts(HEADER + ROW.format(views=views)))

    assert (error.param, error.code) == ("csv", "number_too_large")


@pytest.mark.parametrize("views", [10**4000, 10**15 + 1, "9" * 5000])
def test_a_count_beyond_max_count_is_refused_naming_the_post(views: object) -> None:
    error = refused(lambda: creator_json_posts([{**POST, "views": views}]))

    assert (error.param, error.code) == ("posts[0].views", "number_too_large")


def test_json_and_csv_read_the_same_bounded_counts() -> None:
    data = json.dumps([{**POST, "views": 10**15}]).encode()

    assert read_creator_posts(data, "json")[0].views == 10**15


@pytest.mark.parametrize(
    ("post", "param", "code"),
    [
        ({"id": "a", "author": "ana", "text": "x" * 101}, "posts[0].text", "field_too_long"),
        ({"id": "a", "author": "ana", "text": "", "comments": ["x" * 101]}, "posts[0].comments[0]",
         "field_too_long"),
        ({"id": "a", "author": "ana", "text": "", "reactions": {"👍": 10**16}},
         "posts[0].reactions.👍", "number_too_large"),
        ({"id": "a", "author": "ana", "text": "", **{f"f{i}": 1 for i in range(101)}},
         "posts[0]", "too_many_fields"),
    ],
)  # fmt: skip
def test_a_feed_field_beyond_its_limit_is_refused_naming_it(
    post: dict[str, object], param: str, code: str
) -> None:
    error = refused(lambda: feed_posts([post], TaskInputLimits(max_field_chars=100)))

    assert (error.param, error.code) == (param, code)


def test_too_many_posts_are_refused() -> None:
    posts = [{"id": str(i), "author": "ana", "text": ""} for i in range(11)]

    error = refused(lambda: feed_posts(posts, TaskInputLimits(max_posts=10)))

    assert (error.param, error.code) == ("posts", "too_many_posts")
