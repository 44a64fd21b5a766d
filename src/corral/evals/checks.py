"""corral's deterministic graders beyond OpenAI's string checks: `json_schema` (the answer is
JSON that validates against a schema, with `jsonschema`; a tenant's regular expressions run
with a time limit, see `schema_check`) and `number_check` (the answer's last
number equals the reference: arithmetic with exact answers)."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from corral.evals.grading import Calls, Grade, bad_criterion, bad_item, text_field
from corral.evals.schema_check import PatternTimeout, UnusableSchema, bounded_first_error, validator
from corral.evals.templates import render, render_text

_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n(?P<body>.*?)\n?```\s*$", re.DOTALL)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_SHOWN_ERROR = 200
"""Characters of a validation error kept in an item's detail."""


@dataclass(frozen=True, slots=True)
class JsonSchemaCheck:
    name: str
    input: str
    schema: str | dict[str, Any]
    """The schema itself, or a template giving it (`{{item.schema}}`)."""
    needs_sample = True

    async def grade(self, scope: dict[str, Any], calls: Calls) -> Grade:
        schema = self.schema if isinstance(self.schema, dict) else render(self.schema, scope)
        if validator(schema) is None:
            raise bad_item("json_schema: the item's schema is not a valid JSON schema.")
        try:
            answer = json.loads(_unfenced(render_text(self.input, scope)))
        except ValueError:
            return Grade(self.name, "json_schema", False, 0.0, {"error": "not JSON"})
        try:
            error = await asyncio.to_thread(bounded_first_error, schema, answer)
        except UnusableSchema as exc:
            raise bad_item(f"json_schema: the schema cannot be used ({exc}).") from None
        except PatternTimeout as exc:
            # The tenant's own pattern: the answer was not shown to be valid, so it fails.
            return Grade(self.name, "json_schema", False, 0.0, {"error": str(exc)})
        if error is not None:
            return Grade(self.name, "json_schema", False, 0.0, {"error": error[:_SHOWN_ERROR]})
        return Grade(self.name, "json_schema", True, 1.0)


def _unfenced(text: str) -> str:
    """The answer without a Markdown code fence around it, as chat models often add one."""
    text = text.strip()
    match = _FENCE.match(text)
    return match.group("body") if match else text


@dataclass(frozen=True, slots=True)
class NumberCheck:
    name: str
    input: str
    reference: str
    needs_sample = True

    async def grade(self, scope: dict[str, Any], calls: Calls) -> Grade:
        want = _number(render_text(self.reference, scope).strip())
        if want is None:
            raise bad_item("number_check: the reference is not a number.")
        found = _NUMBER.findall(render_text(self.input, scope))
        got = _number(found[-1]) if found else None
        passed = got is not None and got == want
        detail = {"found": str(got) if got is not None else None}
        return Grade(self.name, "number_check", passed, 1.0 if passed else 0.0, detail)


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def json_schema(spec: dict[str, Any], name: str, param: str) -> JsonSchemaCheck:
    schema = spec.get("schema")
    if isinstance(schema, dict):
        if validator(schema) is None:
            raise bad_criterion(param, "schema is not a valid JSON schema")
    elif not isinstance(schema, str):
        raise bad_criterion(param, "schema must be a JSON schema or a template giving one")
    return JsonSchemaCheck(name, text_field(spec, "input", param), schema)


def number_check(spec: dict[str, Any], name: str, param: str) -> NumberCheck:
    return NumberCheck(name, text_field(spec, "input", param), text_field(spec, "reference", param))
