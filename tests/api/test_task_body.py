"""A task body with a number too long to read is refused naming where the number is (the
JSON reader alone refuses it without saying where)."""

from __future__ import annotations

import pytest

from corral.api.tasks.body import long_number_path

BIG = "9" * 5000


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (f'{{"model": "m", "posts": [{{"id": "a", "views": {BIG}}}]}}', "posts[0].views"),
        (f'{{"model": "m", "posts": [{{"likes": 1}}, {{"likes": -{BIG}}}]}}', "posts[1].likes"),
        (f'{{"model": "m", "n": {BIG}, "posts": [{{"views": {BIG}}}]}}', "n"),
    ],
)
def test_the_first_long_number_is_found_by_its_path(body: str, path: str) -> None:
    assert long_number_path(body.encode()) == path


@pytest.mark.parametrize(
    "body", ['{"model": "m", "posts": [{"views": 12}]}', '{"model": ', "[" * 100_000]
)
def test_a_body_without_one_is_left_to_the_usual_error(body: str) -> None:
    assert long_number_path(body.encode()) is None
