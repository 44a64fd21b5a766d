"""corral's deterministic graders: `json_schema` validates the answer as JSON against a schema
(a bad schema is refused up front, or ends its item `error`; a pattern that backtracks without
end fails its item within the time limit instead of holding the worker), `number_check` compares the
answer's last number with the reference."""

from __future__ import annotations

import time
from typing import Any

import pytest

from corral.errors import InvalidRequest
from corral.evals.graders import build
from corral.evals.schema_check import PATTERN_LIMIT_S
from tests.evals.test_graders import no_scoring

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
}


def json_schema(schema: Any = "{{item.schema}}") -> dict[str, Any]:
    return {
        "type": "json_schema",
        "name": "json",
        "input": "{{sample.output_text}}",
        "schema": schema,
    }


@pytest.mark.parametrize(
    ("answer", "passed", "error"),
    [
        ('{"name": "Ada", "age": 34}', True, None),
        ('```json\n{"name": "Ada", "age": 34}\n```', True, None),
        ('{"name": "Ada", "age": -1}', False, "age: -1 is less than the minimum of 0"),
        ('{"name": "Ada"}', False, "(root): 'age' is a required property"),
        ("Sure! Here it is: {name: Ada}", False, "not JSON"),
    ],
)
async def test_json_schema_passes_only_json_that_validates(
    answer: str, passed: bool, error: str | None
) -> None:
    [grader] = build([json_schema()])
    scope = {"item": {"schema": SCHEMA}, "sample": {"output_text": answer}}
    grade = await grader.grade(scope, no_scoring)
    assert grade.passed is passed
    assert (grade.detail or {}).get("error") == error


def test_a_bad_schema_in_the_criterion_is_refused_when_the_eval_is_made() -> None:
    with pytest.raises(InvalidRequest, match=r"testing_criteria\[0\]: schema is not a valid"):
        build([json_schema({"type": "no-such-type"})])
    with pytest.raises(InvalidRequest, match="schema must be"):
        build([json_schema(42)])


@pytest.mark.parametrize(
    "schema",
    [{"type": "no-such-type"}, "not a schema", {"$ref": "https://example.com/remote.json"}],
)
async def test_an_items_bad_schema_is_that_items_error(schema: Any) -> None:
    [grader] = build([json_schema()])
    scope = {"item": {"schema": schema}, "sample": {"output_text": "{}"}}
    with pytest.raises(InvalidRequest) as refused:
        await grader.grade(scope, no_scoring)
    assert refused.value.code == "bad_item"


CODE = {
    "type": "object",
    "properties": {"code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]+$"}},
}
HOSTILE = {"type": "string", "pattern": "^(a+)+$"}  # backtracks 2^n times on a...ab


async def test_a_backtracking_pattern_fails_its_item_within_the_limit() -> None:
    [grader] = build([json_schema()])
    hostile = {"item": {"schema": HOSTILE}, "sample": {"output_text": f'"{"a" * 40}b"'}}
    started = time.monotonic()
    grade = await grader.grade(hostile, no_scoring)
    took = time.monotonic() - started
    assert not grade.passed
    assert "ran longer than 2 s" in (grade.detail or {})["error"]
    assert took < PATTERN_LIMIT_S + 5  # unbounded, `re` would take longer than we will live

    # The next answers are graded as before (a fresh child), patterns and all.
    for answer, passed in [('{"code": "ABC-12"}', True), ('{"code": "abc"}', False)]:
        scope = {"item": {"schema": CODE}, "sample": {"output_text": answer}}
        assert (await grader.grade(scope, no_scoring)).passed is passed
    error = (await grader.grade(scope, no_scoring)).detail or {}
    assert error["error"] == "code: 'abc' does not match '^[A-Z]{3}-[0-9]+$'"


async def test_a_backtracking_pattern_on_property_names_is_bounded_too() -> None:
    schema = {"type": "object", "patternProperties": {"^(x+x+)+y$": {"type": "string"}}}
    [grader] = build([json_schema(schema)])
    scope = {"sample": {"output_text": '{"%s": 1}' % ("x" * 40)}}
    grade = await grader.grade(scope, no_scoring)
    assert not grade.passed and "ran longer than" in (grade.detail or {})["error"]


@pytest.mark.parametrize(
    ("answer", "passed"),
    [
        ("12 * 7 = 84, minus 65 leaves 19", True),
        ("The answer is 19.", True),
        ("1,019", False),
        ("19 rolls, then 20 minus 1", False),  # the last number counts
        ("I do not know.", False),
    ],
)
async def test_number_check_compares_the_last_number(answer: str, passed: bool) -> None:
    [grader] = build(
        [
            {
                "type": "number_check",
                "input": "{{sample.output_text}}",
                "reference": "{{item.answer}}",
            }
        ]
    )
    grade = await grader.grade(
        {"item": {"answer": 19}, "sample": {"output_text": answer}}, no_scoring
    )
    assert grade.passed is passed
