"""Which chat messages are accepted: the server and its published schema agree, as OpenAI does.

A user, system, developer or tool message needs content (an empty string will do); an
assistant's message that made tool calls may go without.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from corral.api.chat.protocol import ChatCompletionRequest
from corral.api.errors import from_validation_error

CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
ACCEPTED: list[list[dict[str, Any]]] = [
    [{"role": "user", "content": ""}],
    [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "tool_calls": [CALL]},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ],
]
REFUSED: list[tuple[list[dict[str, Any]], str]] = [
    ([{"role": "user"}], "messages[0].content"),
    ([{"role": "user", "content": None}], "messages[0].content"),
    ([{"role": "system", "content": "x"}, {"role": "system"}], "messages[1].content"),
    ([{"role": "developer"}], "messages[0].content"),
    ([{"role": "tool", "tool_call_id": "call_1"}], "messages[0].content"),
    ([{"role": "robot", "content": "x"}], "messages[0].role"),
]


def published_schema() -> dict[str, Any]:
    schema = ChatCompletionRequest.model_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def body(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"model": "m", "messages": messages}


@pytest.mark.parametrize("messages", ACCEPTED)
def test_messages_openai_accepts_are_accepted_and_documented(
    messages: list[dict[str, Any]],
) -> None:
    ChatCompletionRequest.model_validate(body(messages))
    jsonschema.validate(body(messages), published_schema())


@pytest.mark.parametrize(("messages", "param"), REFUSED)
def test_a_message_without_content_is_a_400_naming_it_and_the_schema_says_so(
    messages: list[dict[str, Any]], param: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        ChatCompletionRequest.model_validate(body(messages))

    error = from_validation_error(refused.value)
    assert (error.status_code, error.param) == (400, param)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(body(messages), published_schema())
