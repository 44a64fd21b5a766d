"""Limits on the JSON schemas a request brings in `response_format`, checked before any work.

A schema is small, but what is built from it need not be: a local model compiles it into a
grammar whose size grows with every bound (`maxLength: 20000` becomes 20,000 nested rules), and
a deep or wide schema costs the validator and the sampler at every token. `check_structure`
walks the schema once, iteratively (a deep schema cannot exhaust the stack here), and refuses
with a 400 naming the place and the limit; `minimum_output_bytes` tells what the smallest
answer under a schema takes, so a schema that cannot fit in `max_tokens` is refused up front.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from corral.errors import SchemaLimitExceeded

PARAM = "response_format"
_DATA_KEYS = frozenset({"enum", "const", "default", "examples"})
"""Keywords whose values are JSON data, not schemas: never read as bounds or alternatives."""
_ALTERNATIVES = ("enum", "anyOf", "oneOf", "allOf", "prefixItems")
_UPPER_BOUNDS = ("maxLength", "maxItems")
_LOWER_BOUNDS = ("minLength", "minItems")
_QUANTIFIER = re.compile(r"\{\s*(\d*)\s*(?:,\s*(\d*)\s*)?\}")


class SchemaLimits(BaseModel):
    """`[schema_limits]`: what a `response_format` JSON schema may ask for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_schema_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    max_depth: int = Field(default=64, ge=8, le=512)
    """Nesting of objects and arrays in the schema document itself."""
    max_enum_members: int = Field(default=256, ge=8, le=100_000)
    """Members of one `enum`, or alternatives of one `anyOf`/`oneOf`/`allOf`/`prefixItems`."""
    max_properties: int = Field(default=256, ge=8, le=100_000)
    max_compiled_bound: int = Field(default=500, ge=16, le=1000)
    """Largest length or count compiled into a local model's grammar. A larger `maxLength` or
    `maxItems` is enforced as this bound (the answer stays valid); a larger `minLength`,
    `minItems` or pattern quantifier is refused. llama.cpp refuses grammars nested deeper than
    about 1,100, so the bound stays below that."""
    max_grammar_bytes: int = Field(default=512 * 1024, ge=16 * 1024, le=64 * 1024 * 1024)
    max_grammar_nesting: int = Field(default=1000, ge=64, le=1000)
    """Parenthesis depth of a generated grammar; llama.cpp's parser recurses per level and
    overflows the C stack (killing the process) at about 14,000 on an 8 MiB stack."""
    grammar_cache_bytes: int = Field(default=32 * 1024 * 1024, ge=0, le=4 * 1024**3)

    @model_validator(mode="after")
    def _bounds_fit_the_nesting(self) -> SchemaLimits:
        # A bound of n compiles to n nested optional groups, plus a few levels around them.
        if self.max_compiled_bound + 16 > self.max_grammar_nesting:
            raise ValueError("max_compiled_bound must stay 16 below max_grammar_nesting")
        return self


def refuse(message: str) -> SchemaLimitExceeded:
    return SchemaLimitExceeded(message, param=PARAM)


def check_structure(schema: Any, limits: SchemaLimits) -> None:
    """Refuse a schema deeper, wider or larger than `limits` (400 `schema_limit_exceeded`)."""
    for path, node, depth in _walk(schema):
        if depth > limits.max_depth:
            raise refuse(
                f"response_format: the JSON schema nests deeper than {limits.max_depth} levels "
                f"(at {path}). Flatten the schema."
            )
        if not isinstance(node, dict):
            continue
        for key in _ALTERNATIVES:
            members = node.get(key)
            if isinstance(members, list) and len(members) > limits.max_enum_members:
                raise refuse(
                    f"response_format: '{key}' at {path} has {len(members)} members; at most "
                    f"{limits.max_enum_members} are allowed."
                )
        properties = node.get("properties")
        if isinstance(properties, dict) and len(properties) > limits.max_properties:
            raise refuse(
                f"response_format: 'properties' at {path} has {len(properties)} entries; at "
                f"most {limits.max_properties} are allowed."
            )
    size = len(json.dumps(schema, separators=(",", ":")).encode())
    if size > limits.max_schema_bytes:
        raise refuse(
            f"response_format: the JSON schema is {size} bytes; at most "
            f"{limits.max_schema_bytes} are allowed."
        )


def bounded(schema: Any, limits: SchemaLimits, path: str = "#") -> Any:
    """A copy of `schema` a grammar can be compiled from: every upper bound above
    `max_compiled_bound` lowered to it (an answer within it is valid under the original), and a
    lower bound or pattern quantifier above it refused. Call after `check_structure`."""
    if isinstance(schema, list):
        return [bounded(item, limits, f"{path}/{i}") for i, item in enumerate(schema)]
    if not isinstance(schema, dict):
        return schema
    most = limits.max_compiled_bound
    result: dict[str, Any] = {}
    for key, value in schema.items():
        here = f"{path}/{key}"
        if key in _DATA_KEYS:
            result[key] = value
        elif key in _UPPER_BOUNDS and _is_count(value):
            result[key] = min(value, most)
        elif key in _LOWER_BOUNDS and _is_count(value) and value > most:
            raise refuse(
                f"response_format: '{key}' {value} at {path} is above {most}, the largest "
                "length or count this model's grammar compiles."
            )
        elif key == "pattern" and isinstance(value, str):
            _check_pattern(value, most, here)
            result[key] = value
        else:
            result[key] = bounded(value, limits, here)
    return _integer_range(result, limits)


def _integer_range(schema: dict[str, Any], limits: SchemaLimits) -> dict[str, Any]:
    """An integer schema with a small `minimum`..`maximum` as the enum of its values: the
    grammar converter ignores numeric bounds, so `{"type": "integer", "maximum": 1}` would
    otherwise allow 100. Wider ranges stay as they are (their bounds are not enforced)."""
    if schema.get("type") != "integer" or "enum" in schema or "const" in schema:
        return schema
    low, high = (
        _bound(schema, "minimum", "exclusiveMinimum", 1),
        _bound(schema, "maximum", "exclusiveMaximum", -1),
    )
    if low is None or high is None or not 0 <= high - low < limits.max_enum_members:
        return schema
    return {"enum": list(range(low, high + 1))}


def _bound(schema: dict[str, Any], inclusive: str, exclusive: str, step: int) -> int | None:
    """The tightest integer bound on one side (`step` 1: from below, -1: from above)."""
    found = []
    for key, shift in ((inclusive, 0), (exclusive, step)):
        value = schema.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        rounded = math.ceil(value) if step > 0 else math.floor(value)
        found.append(rounded + (shift if rounded == value else 0))
    if not found:
        return None
    return max(found) if step > 0 else min(found)


def minimum_output_bytes(schema: Any) -> int:
    """The length of the shortest JSON text valid under `schema` as corral's grammar writes it
    (a lower bound: what is not understood counts as one byte)."""
    if not isinstance(schema, dict):
        return 1
    if "const" in schema:
        return len(json.dumps(schema["const"]))
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return min(len(json.dumps(member)) for member in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return min(minimum_output_bytes(alt) for alt in schema[key])
    if isinstance(schema.get("allOf"), list) and schema["allOf"]:
        return max(minimum_output_bytes(part) for part in schema["allOf"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return min((minimum_output_bytes({**schema, "type": k}) for k in kind), default=1)
    if kind == "string":
        return 2 + _count(schema.get("minLength"))
    if kind == "array" or "items" in schema or "prefixItems" in schema:
        return _array_bytes(schema)
    if kind == "object" or "properties" in schema:
        return _object_bytes(schema)
    return 4 if kind in ("boolean", "null") else 1


def _array_bytes(schema: dict[str, Any]) -> int:
    prefix = schema.get("prefixItems")
    if isinstance(prefix, list):
        return 2 + sum(minimum_output_bytes(item) + 1 for item in prefix)
    items = _count(schema.get("minItems"))
    if items == 0:
        return 2
    return 2 + items * (minimum_output_bytes(schema.get("items")) + 1) - 1


def _object_bytes(schema: dict[str, Any]) -> int:
    properties = schema.get("properties")
    required = schema.get("required")
    if not isinstance(properties, dict) or not isinstance(required, list):
        return 2
    members = [
        len(json.dumps(name)) + 1 + minimum_output_bytes(properties[name])
        for name in required
        if isinstance(name, str) and name in properties
    ]
    return 2 + sum(members) + max(len(members) - 1, 0)  # braces, "name":value, commas


def _walk(schema: Any) -> Iterator[tuple[str, Any, int]]:
    """Every node with its JSON pointer and depth, without recursion."""
    stack: list[tuple[str, Any, int]] = [("#", schema, 1)]
    while stack:
        path, node, depth = stack.pop()
        yield path, node, depth
        if isinstance(node, dict):
            stack.extend((f"{path}/{key}", value, depth + 1) for key, value in node.items())
        elif isinstance(node, list):
            stack.extend((f"{path}/{i}", value, depth + 1) for i, value in enumerate(node))


def _check_pattern(pattern: str, most: int, path: str) -> None:
    for match in _QUANTIFIER.finditer(pattern):
        numbers = [int(n) for n in match.groups() if n]
        if any(n > most for n in numbers):
            raise refuse(
                f"response_format: the pattern at {path} repeats up to {max(numbers)} times; "
                f"at most {most} can be compiled into this model's grammar."
            )


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _count(value: Any) -> int:
    return value if _is_count(value) else 0
