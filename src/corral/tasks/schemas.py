"""What each task asks the model for (JSON schemas the answer is decoded or validated against),
and the schemas of the task responses corral publishes at `GET /v1/tasks/{name}/schema`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Bounds on every list and text keep a whole answer within `engine.OUTPUT_TOKENS`, so a small
# model decoding under the grammar cannot ramble past the end of its budget mid-object.
_TEXT = {"type": "string", "minLength": 1, "maxLength": 160}
_TITLE = {"type": "string", "minLength": 1, "maxLength": 60}
_NAME = {"type": "string", "maxLength": 40}
_MESSAGE_ID = {"type": "integer"}  # llama.cpp's grammar bounds an integer's digits


def _items(
    ref_field: str, ref: dict[str, Any], extra: dict[str, Any] | None = None, most: int = 4
) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "text": _TEXT,
        ref_field: {"type": "array", "items": ref, "maxItems": 4},
    }
    properties.update(extra or {})
    return {
        "type": "array",
        "maxItems": most,
        "items": {
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        },
    }


def _string_id(longest: int | None) -> dict[str, Any]:
    return {"type": "string"} if longest is None else {"type": "string", "maxLength": longest}


def summary_output(longest_id: int | None = None, most: int = 4) -> dict[str, Any]:
    """What a summary answer holds. With `longest_id`, the form a model decodes under: no cited
    id longer than the longest given (a small model under a grammar has been seen spelling one
    id out, "1.1.1.1...", until its tokens ran out). A model is asked for 4 topics at most
    (which fit its token budget); the fast mode, whose topics are found in code, gives up
    to 6."""
    points = _items("post_ids", _string_id(longest_id), most=3)
    return {
        "type": "object",
        "properties": {
            "topics": {
                "type": "array",
                "maxItems": most,
                "items": {
                    "type": "object",
                    "properties": {"title": _TITLE, "points": points},
                    "required": ["title", "points"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["topics"],
        "additionalProperties": False,
    }


def tips_output(longest_id: int | None = None) -> dict[str, Any]:
    """What a tips answer holds; `longest_id` bounds the cited fact ids as in `summary_output`."""
    return {
        "type": "object",
        "properties": {"tips": _items("fact_ids", _string_id(longest_id), most=5)},
        "required": ["tips"],
        "additionalProperties": False,
    }


SUMMARY_OUTPUT = summary_output()
"""A summary answer as judged: an unknown id is dropped from it afterwards, not an error."""
TIPS_OUTPUT = tips_output()


def explanation_output(most: int = 4) -> dict[str, Any]:
    """An explanation; `most` decisions and open questions (a model is asked for 4, which fit
    its token budget; the rules of the fast mode may report up to 8)."""
    return {
        "type": "object",
        "properties": {
            "explanation": {"type": "string", "minLength": 1, "maxLength": 500},
            "decisions": _items("message_ids", _MESSAGE_ID, most=most),
            "open_questions": _items("message_ids", _MESSAGE_ID, {"waiting_on": _NAME}, most),
        },
        "required": ["explanation", "decisions", "open_questions"],
        "additionalProperties": False,
    }


EXPLANATION_OUTPUT = explanation_output()


def titles_output(keys: Sequence[str], most: int = 32) -> dict[str, Any]:
    """Summarize's fast mode: a short title for each topic found in code, under the topic's
    key (its strongest key word): a small model decoding under this grammar writes the key
    word first, which keeps the title it then writes on that topic."""
    title = {"type": "string", "minLength": 1, "maxLength": most}
    return {
        "type": "object",
        "properties": {key: title for key in keys},
        "required": list(keys),
        "additionalProperties": False,
    }


_META = {
    "type": "object",
    "properties": {
        "model": {"type": "string"},
        "language": {"type": "string"},
        "chunks": {"type": "integer"},
        "prompt_tokens": {"type": "integer"},
        "completion_tokens": {"type": "integer"},
        "dropped_references": {"type": "integer"},
        "mode": {"type": "string", "enum": ["fast", "thorough"]},
        "prompt_version": {"type": "string"},
        "fallback": {"type": "boolean"},
    },
    "required": [
        "mode",
        "prompt_version",
        "fallback",
        "model",
        "language",
        "chunks",
        "prompt_tokens",
        "completion_tokens",
        "dropped_references",
    ],
}


def response_schema(output: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    properties = {**output["properties"], **(extra or {}), "meta": _META}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": properties,
        "required": [*output["required"], *(extra or {}), "meta"],
    }


PARTICIPANTS = {
    "participants": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "message_count": {"type": "integer"}},
            "required": ["name", "message_count"],
        },
    }
}
FACTS = {
    "facts": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "text": {"type": "string"},
                "numbers": {"type": "object", "additionalProperties": {"type": "number"}},
            },
            "required": ["id", "text", "numbers"],
        },
    }
}

RESPONSE_SCHEMAS: dict[str, dict[str, Any]] = {
    "summarize": response_schema(summary_output(most=6)),
    "explain-conversation": response_schema(explanation_output(most=8), PARTICIPANTS),
    "creator-tips": response_schema(TIPS_OUTPUT, FACTS),
}
