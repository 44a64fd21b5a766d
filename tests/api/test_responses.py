"""The Responses API through the official OpenAI SDK's `client.responses`, against a real server."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema
import openai
import pytest

from tests.support import ADMIN_KEY, MODEL, RunningServer

WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "The current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 30}},
        "required": ["city"],
        "additionalProperties": False,
    },
}


def test_a_string_input_is_answered_with_output_text_and_usage(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model=MODEL, input="Name three colours.", max_output_tokens=200, temperature=0
    )

    assert response.object == "response"
    assert response.id.startswith("resp_")
    assert response.status == "completed"
    assert response.output_text
    message: Any = response.output[0]
    assert message.type == "message" and message.role == "assistant"
    assert response.usage is not None
    assert response.usage.output_tokens > 0 and response.usage.input_tokens > 5
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens


def test_an_answer_cut_by_max_output_tokens_is_incomplete(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model=MODEL, input="Tell me a long story.", max_output_tokens=16
    )

    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.usage is not None and response.usage.output_tokens == 16


def test_a_stored_response_is_retrieved_listed_and_deleted(client: openai.OpenAI) -> None:
    created = client.responses.create(
        model=MODEL,
        instructions="Answer in one word.",
        input=[{"role": "user", "content": "Say yes."}],
        max_output_tokens=5,
        metadata={"ticket": "T-1"},
    )

    again = client.responses.retrieve(created.id)
    assert again.id == created.id and again.output_text == created.output_text
    assert again.metadata == {"ticket": "T-1"} and again.instructions == "Answer in one word."
    items = client.responses.input_items.list(created.id)
    assert [i.type for i in items.data] == ["message"]
    first: Any = items.data[0]
    assert first.role == "user" and first.content[0].text == "Say yes."

    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.retrieve(created.id)
    assert created.id in caught.value.message


def test_previous_response_id_continues_the_conversation(client: openai.OpenAI) -> None:
    first = client.responses.create(model=MODEL, input="My name is Ada.", max_output_tokens=8)
    follow = client.responses.create(
        model=MODEL, input="What is my name?", previous_response_id=first.id, max_output_tokens=8
    )
    alone = client.responses.create(model=MODEL, input="What is my name?", max_output_tokens=8)

    assert follow.previous_response_id == first.id
    assert follow.usage is not None and alone.usage is not None and first.usage is not None
    # The model read the first turn (question and answer) before the second.
    assert follow.usage.input_tokens > alone.usage.input_tokens + first.usage.output_tokens


def test_store_false_is_not_kept(client: openai.OpenAI) -> None:
    response = client.responses.create(model=MODEL, input="Hi", max_output_tokens=3, store=False)

    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)


def test_a_streamed_response_arrives_as_typed_events(client: openai.OpenAI) -> None:
    stream = client.responses.create(
        model=MODEL, input="Name three colours.", max_output_tokens=20, stream=True
    )

    events = list(stream)
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[2:4] == ["response.output_item.added", "response.content_part.added"]
    assert "response.output_text.delta" in kinds
    assert kinds[-1] in {"response.completed", "response.incomplete"}
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    final: Any = events[-1]
    assert final.response.output_text == deltas
    assert final.response.usage.output_tokens > 0
    assert client.responses.retrieve(final.response.id).output_text == deltas


def test_the_sdk_stream_helper_accumulates_the_text(client: openai.OpenAI) -> None:
    # Greedy: a sampled answer may run to the token limit, and an incomplete response has no
    # `response.completed` event for the helper to return (OpenAI's own behaviour too).
    with client.responses.stream(
        model=MODEL, input="Say hello.", max_output_tokens=300, temperature=0
    ) as stream:
        final = stream.get_final_response()

    assert final.output_text


def test_a_function_call_and_its_output_round_trip(client: openai.OpenAI) -> None:
    called = client.responses.create(
        model=MODEL,
        input="What is the weather in Paris?",
        tools=[WEATHER],
        tool_choice="required",
        max_output_tokens=80,
        temperature=0,
    )
    call: Any = called.output[0]
    assert call.type == "function_call" and call.name == "get_weather"
    jsonschema.validate(json.loads(call.arguments), WEATHER["parameters"])

    answer = client.responses.create(
        model=MODEL,
        previous_response_id=called.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "21 C, sunny"}],
        max_output_tokens=20,
    )
    assert answer.output_text


def test_a_streamed_function_call_arrives_as_argument_deltas(client: openai.OpenAI) -> None:
    events = list(
        client.responses.create(
            model=MODEL,
            input="Weather in Oslo?",
            tools=[WEATHER],
            tool_choice="required",
            max_output_tokens=80,
            temperature=0,
            stream=True,
        )
    )

    done: Any = next(e for e in events if e.type == "response.function_call_arguments.done")
    jsonschema.validate(json.loads(done.arguments), WEATHER["parameters"])
    final: Any = events[-1]
    assert final.type == "response.completed"
    assert final.response.output[0].type == "function_call"


def test_a_json_schema_text_format_is_followed(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"colour": {"type": "string", "maxLength": 20}},
        "required": ["colour"],
        "additionalProperties": False,
    }
    response = client.responses.create(
        model=MODEL,
        input="Pick a colour.",
        text={"format": {"type": "json_schema", "name": "pick", "schema": schema}},
        max_output_tokens=30,
    )

    jsonschema.validate(json.loads(response.output_text), schema)


def test_an_image_input_is_a_400_naming_the_model(client: openai.OpenAI) -> None:
    image: Any = {"type": "input_image", "image_url": "https://x/y.png"}
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(
            model=MODEL,
            input=[{"role": "user", "content": [image]}],
        )

    assert f"Model '{MODEL}' takes no image input" in caught.value.message


def test_an_unknown_previous_response_is_a_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model=MODEL, input="Hi", previous_response_id="resp_nope")

    assert "resp_nope" in caught.value.message


def test_one_tenants_responses_are_invisible_to_another(
    client: openai.OpenAI, server: RunningServer
) -> None:
    created = client.responses.create(model=MODEL, input="Secret plan.", max_output_tokens=3)
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=server.base_url, headers=admin) as http:
        http.post("/admin/tenants", json={"name": "responses-other"}).raise_for_status()
        key = http.post("/admin/keys", json={"tenant": "responses-other"}).json()["key"]
    other = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=key, max_retries=0)

    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.create(model=MODEL, input="Go on.", previous_response_id=created.id)
    assert client.responses.retrieve(created.id).id == created.id
