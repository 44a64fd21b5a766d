"""Reading a feed from JSON: the fields, their defaults, and errors that name the post at fault."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest

from corral.errors import InvalidRequest
from corral.tasks.feed import read_feed
from corral.tasks.inputs import Post

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "feed_posts.json"
GOOD: dict[str, object] = {"id": "a", "author": "ana", "time": "2024-05-06T08:00:00Z"}
GOOD |= {"text": "Road closures on Main St.", "reactions": {"👍": 3}, "comments": ["Thanks!"]}


def encode(document: object) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def test_a_feed_reads_from_a_list_or_an_object_with_posts() -> None:
    expected = Post(
        "a",
        "ana",
        dt.datetime(2024, 5, 6, 8, tzinfo=dt.UTC),
        "Road closures on Main St.",
        {"👍": 3},
        ["Thanks!"],
    )

    from_list = read_feed(encode([GOOD]))
    from_object = read_feed(encode({"posts": [GOOD], "source": "export"}))

    assert from_list == from_object == [expected]


def test_optional_fields_default_and_times_without_offset_are_utc() -> None:
    bare = {"id": 7, "author": " bo ", "text": "", "extra": "ignored"}
    naive = {"id": "n", "author": "cy", "text": "hi", "time": "2024-05-06 08:00"}
    with_offset = {"id": "o", "author": "cy", "text": "hi", "time": "2024-05-06T10:00+02:00"}
    commented = {"id": "c", "author": "cy", "text": "hi", "comments": [{"text": "yo", "by": "x"}]}

    posts = read_feed(encode([bare, naive, with_offset, commented]))

    assert posts[0] == Post("7", "bo", None, "", {}, [])
    assert posts[1].time == dt.datetime(2024, 5, 6, 8, tzinfo=dt.UTC)
    assert posts[2].time is not None and posts[2].time.utcoffset() == dt.timedelta(hours=2)
    assert posts[3].comments == ["yo"]


def test_null_reactions_comments_and_time_are_empty() -> None:
    post = GOOD | {"reactions": None, "comments": None, "time": None}

    (only,) = read_feed(encode([post]))

    assert (only.reactions, only.comments, only.time) == ({}, [], None)


def without(name: str) -> dict[str, object]:
    return {key: value for key, value in GOOD.items() if key != name}


ERRORS: list[tuple[object, str]] = [
    ("", "the feed is empty"),
    ("{", "the feed is not valid JSON: Expecting property name enclosed in double quotes"),
    ("null", 'the feed must be a JSON list of posts or an object with a "posts" list, not null'),
    ({"posts": {}}, "not an object"),
    ({"posts": []}, "the feed has no posts"),
    ([GOOD, [1]], "post 2: expected an object, got a list"),
    ([without("author")], "post 1: missing 'author'"),
    ([without("id")], "post 1: missing 'id'"),
    ([without("text")], "post 1: missing 'text'"),
    ([GOOD | {"author": "  "}], "post 1: 'author' is empty"),
    ([GOOD | {"author": 3}], "post 1: 'author' is not a string (the number 3)"),
    ([GOOD | {"id": ""}], "post 1: 'id' is empty"),
    ([GOOD | {"id": False}], "post 1: 'id' is not a string or a whole number (a boolean)"),
    ([GOOD | {"text": None}], "post 1: 'text' is not a string (null)"),
    ([GOOD | {"time": "May 6th"}], "post 1: 'time' is not an ISO 8601 time ('May 6th')"),
    ([GOOD | {"reactions": ["👍"]}], "post 1: 'reactions' is not an object of counts (a list)"),
    ([GOOD | {"reactions": {"👍": -2}}], "post 1: 'reactions.👍' is negative (-2)"),
    ([GOOD | {"reactions": {"👍": "lots"}}], "post 1: 'reactions.👍' is not a whole number"),
    ([GOOD | {"reactions": {"": 1}}], "post 1: a reaction has an empty name"),
    ([GOOD | {"comments": "nice"}], "post 1: 'comments' is not a list (the string 'nice')"),
    ([GOOD | {"comments": ["ok", 4]}], "post 1: comment 2 is not text (the number 4)"),
    ([GOOD, GOOD | {"id": "b"}, GOOD], "post 3: id 'a' repeats the id of post 1"),
]


@pytest.mark.parametrize(("document", "message"), ERRORS)
def test_a_bad_feed_is_refused_naming_the_post_and_the_problem(
    document: object, message: str
) -> None:
    raw = document.encode() if isinstance(document, str) else encode(document)

    with pytest.raises(InvalidRequest) as caught:
        read_feed(raw)

    assert message in caught.value.message
    assert caught.value.status_code == 400


def test_a_feed_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="the feed is not UTF-8 text"):
        read_feed(b'[{"id": "\xe9"}]')


def test_the_fixture_feed_has_many_posts_by_about_thirty_authors_on_a_few_topics() -> None:
    raw = FIXTURE.read_bytes()

    posts = read_feed(raw)

    assert len(posts) >= 200
    assert 25 <= len({post.author for post in posts}) <= 35
    assert len({post.id for post in posts}) == len(posts)
    times = [post.time for post in posts if post.time is not None]
    assert len(times) == len(posts) and times == sorted(times)
    topics = Counter(item["topic"] for item in json.loads(raw)["posts"])
    assert len(topics) == 5 and min(topics.values()) >= 10
    assert sum(bool(post.comments) for post in posts) >= 50
    assert all(post.reactions for post in posts)
