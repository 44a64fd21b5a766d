"""The limits on a `response_format` schema: what is refused, with which words, and what passes."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from corral.backends.schema_limits import (
    SchemaLimits,
    bounded,
    check_structure,
    minimum_output_bytes,
)
from corral.errors import SchemaLimitExceeded
from corral.tasks.schemas import EXPLANATION_OUTPUT, SUMMARY_OUTPUT, TIPS_OUTPUT, summary_output

LIMITS = SchemaLimits()
BUILT_IN = [EXPLANATION_OUTPUT, SUMMARY_OUTPUT, TIPS_OUTPUT, summary_output(12)]


def refusal(schema: Any, limits: SchemaLimits = LIMITS) -> SchemaLimitExceeded:
    with pytest.raises(SchemaLimitExceeded) as caught:
        check_structure(schema, limits)
        bounded(schema, limits)
    assert caught.value.status_code == 400
    assert caught.value.param == "response_format"
    assert caught.value.code == "schema_limit_exceeded"
    return caught.value


@pytest.mark.parametrize("schema", BUILT_IN)
def test_every_built_in_task_schema_passes_unchanged(schema: dict[str, Any]) -> None:
    check_structure(schema, LIMITS)

    assert bounded(schema, LIMITS) == schema


def test_a_deeply_nested_schema_is_refused_naming_where() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(150):
        schema = {"type": "array", "items": schema}

    error = refusal(schema)

    assert "deeper than 64 levels" in error.message
    assert "#/items/items" in error.message


def test_a_schema_nested_far_beyond_the_stack_is_refused_without_recursing() -> None:
    schema: dict[str, Any] = {}
    for _ in range(100_000):
        schema = {"items": schema}

    assert "deeper than" in refusal(schema).message


def test_a_large_enum_is_refused() -> None:
    error = refusal({"properties": {"colour": {"enum": [f"c{i}" for i in range(300)]}}})

    assert "'enum' at #/properties/colour has 300 members" in error.message
    assert "256" in error.message


def test_many_alternatives_count_like_enum_members() -> None:
    assert "'anyOf'" in refusal({"anyOf": [{"const": i} for i in range(257)]}).message


def test_too_many_properties_are_refused() -> None:
    schema = {"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(257)}}

    assert "'properties' at # has 257 entries" in refusal(schema).message


def test_a_schema_larger_than_the_byte_limit_is_refused() -> None:
    schema = {"description": "x" * 70_000}

    assert "65536" in refusal(schema).message


def test_the_limits_are_configurable() -> None:
    limits = SchemaLimits(max_enum_members=8)

    refusal({"enum": list(range(9))}, limits)
    check_structure({"enum": list(range(9))}, LIMITS)


def test_an_upper_bound_above_the_compiled_bound_is_lowered_to_it() -> None:
    schema = {"type": "array", "maxItems": 10**9, "items": {"type": "string", "maxLength": 20000}}

    assert bounded(schema, LIMITS) == {
        "type": "array",
        "maxItems": 500,
        "items": {"type": "string", "maxLength": 500},
    }


def test_values_that_are_data_keep_their_bounds_words() -> None:
    schema = {"const": {"maxLength": 20000}, "enum": [{"maxItems": 9999}]}

    assert bounded(schema, LIMITS) == schema


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        ({"type": "string", "minLength": 600}, "'minLength' 600 at # is above 500"),
        ({"items": {"minItems": 10**7}}, "'minItems' 10000000 at #/items is above 500"),
        ({"type": "string", "pattern": "^a{0,20000}$"}, "repeats up to 20000 times"),
        ({"type": "string", "pattern": "^(ab){501}$"}, "repeats up to 501 times"),
    ],
)
def test_a_lower_bound_or_repetition_above_the_compiled_bound_is_refused(
    schema: dict[str, Any], words: str
) -> None:
    assert words in refusal(schema).message


@pytest.mark.parametrize(
    ("schema", "shortest"),
    [
        ({"type": "string", "minLength": 10_000_000}, '"' + "x" * 10_000_000 + '"'),
        ({"type": "array", "minItems": 3, "items": {"type": "integer"}}, "[0,0,0]"),
        (
            {
                "type": "object",
                "properties": {"a": {"type": "boolean"}, "b": {"type": "string"}},
                "required": ["a"],
            },
            '{"a":true}',
        ),
        ({"anyOf": [{"type": "string", "minLength": 9}, {"type": "null"}]}, "null"),
        ({"enum": ["long member", "x"]}, '"x"'),
        ({"$ref": "#/$defs/unknown"}, "0"),
    ],
)
def test_the_shortest_answer_is_measured(schema: dict[str, Any], shortest: str) -> None:
    assert minimum_output_bytes(schema) == len(shortest)


def test_a_compiled_bound_too_close_to_the_grammar_nesting_is_a_configuration_error() -> None:
    with pytest.raises(ValidationError):
        SchemaLimits(max_compiled_bound=990, max_grammar_nesting=1000)


@pytest.mark.parametrize(
    ("schema", "values"),
    [
        ({"type": "integer", "minimum": 1, "maximum": 5}, [1, 2, 3, 4, 5]),
        ({"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 3}, [1, 2]),
        ({"type": "integer", "minimum": 0.5, "maximum": 2.5}, [1, 2]),
    ],
)
def test_a_small_integer_range_is_compiled_as_its_values(
    schema: dict[str, Any], values: list[int]
) -> None:
    assert bounded(schema, LIMITS) == {"enum": values}


def test_an_open_or_wide_integer_range_is_left_as_it_is() -> None:
    for schema in (
        {"type": "integer", "minimum": 0},
        {"type": "integer", "minimum": 0, "maximum": 10**6},
        {"type": "number", "minimum": 0, "maximum": 1},
    ):
        assert bounded(schema, LIMITS) == schema
