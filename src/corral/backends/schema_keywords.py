"""Which JSON-schema keywords the local grammar cannot enforce, for strict schemas.

llama-cpp-python's converter silently ignores what it does not know: a strict schema with
`maximum: 1` would then answer 100. A strict schema is a promise, so one that uses a keyword
the grammar cannot hold is refused, naming it; non-strict schemas are enforced best-effort.
Integer `minimum`..`maximum` ranges small enough to compile as their values are enforced
(`schema_limits.bounded`), so this reads the schema after that rewrite.
"""

from __future__ import annotations

from typing import Any

from corral.errors import InvalidRequest

UNENFORCED = frozenset(
    {
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "uniqueItems",
        "minProperties",
        "maxProperties",
        "patternProperties",
        "propertyNames",
        "dependentRequired",
        "dependentSchemas",
        "unevaluatedProperties",
        "unevaluatedItems",
        "contains",
        "minContains",
        "maxContains",
        "not",
        "if",
        "then",
        "else",
    }
)
ENFORCED_FORMATS = frozenset({"date", "time", "date-time", "uuid"})
_SCHEMA_MAPS = ("properties", "$defs", "definitions")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMAS = ("items", "additionalProperties")


def unenforced_keyword(schema: Any, path: str = "#") -> tuple[str, str] | None:
    """The first (keyword, place) of `schema` the grammar would ignore, or None."""
    if not isinstance(schema, dict):
        return None
    for key in schema:
        if key in UNENFORCED:
            return key, path
    if "format" in schema and schema["format"] not in ENFORCED_FORMATS:
        return f"format: {schema['format']}", path
    if "pattern" in schema and ("minLength" in schema or "maxLength" in schema):
        return "minLength" if "minLength" in schema else "maxLength", path  # pattern wins
    for key in _SCHEMA_MAPS:
        for name, sub in (schema.get(key) or {}).items():
            if found := unenforced_keyword(sub, f"{path}/{key}/{name}"):
                return found
    for key in _SCHEMA_LISTS:
        for i, sub in enumerate(schema.get(key) or []):
            if found := unenforced_keyword(sub, f"{path}/{key}/{i}"):
                return found
    for key in _SCHEMAS:
        if found := unenforced_keyword(schema.get(key), f"{path}/{key}"):
            return found
    return None


def refuse_unenforced(schema: Any) -> None:
    """400 naming the first keyword of a strict `schema` decoding cannot hold."""
    found = unenforced_keyword(schema)
    if found is None:
        return
    keyword, place = found
    raise InvalidRequest(
        f"response_format: this strict JSON schema uses '{keyword}' at {place}, which the local "
        "model cannot enforce while decoding (integer minimum/maximum are enforced only over a "
        "small range). Remove it, or set strict to false to have the schema enforced without it.",
        param="response_format",
    )
