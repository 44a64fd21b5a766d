"""A strict schema's keywords the local grammar cannot hold are found, wherever they sit."""

from __future__ import annotations

from typing import Any

import pytest

from corral.backends.schema_keywords import refuse_unenforced, unenforced_keyword
from corral.backends.schema_limits import SchemaLimits, bounded
from corral.errors import InvalidRequest


def test_a_small_integer_range_is_enforced_so_not_reported() -> None:
    schema = {"type": "integer", "minimum": 0, "maximum": 10}

    assert unenforced_keyword(bounded(schema, SchemaLimits())) is None


@pytest.mark.parametrize(
    ("schema", "found"),
    [
        ({"type": "number", "maximum": 1}, ("maximum", "#")),
        ({"type": "integer", "exclusiveMinimum": 0}, ("exclusiveMinimum", "#")),
        (
            {"type": "object", "properties": {"n": {"type": "number", "multipleOf": 2}}},
            ("multipleOf", "#/properties/n"),
        ),
        ({"type": "array", "items": {}, "uniqueItems": True}, ("uniqueItems", "#")),
        ({"anyOf": [{"type": "string", "format": "email"}]}, ("format: email", "#/anyOf/0")),
        ({"type": "string", "pattern": "^a+$", "maxLength": 3}, ("maxLength", "#")),
    ],
)
def test_an_unenforced_keyword_is_named_with_its_place(
    schema: dict[str, Any], found: tuple[str, str]
) -> None:
    assert unenforced_keyword(schema) == found


def test_a_property_named_like_a_keyword_is_not_a_keyword() -> None:
    schema = {
        "type": "object",
        "properties": {
            "minimum": {"type": "integer"},
            "when": {"type": "string", "format": "date"},
        },
        "default": {"maximum": 3},
    }

    assert unenforced_keyword(schema) is None


def test_a_strict_schema_with_one_is_a_400_naming_it() -> None:
    with pytest.raises(InvalidRequest) as caught:
        refuse_unenforced({"type": "object", "properties": {"p": {"not": {"type": "null"}}}})

    assert caught.value.param == "response_format"
    assert "'not' at #/properties/p" in caught.value.message
