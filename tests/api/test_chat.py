"""Chat completions through the official OpenAI SDK against a real server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import llama_cpp
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from openai.types.chat.completion_create_params import ResponseFormat

from tests.support import MODEL

QUESTION: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Name three colours."}]


def test_answer_carries_text_usage_and_finish_reason(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL,
        messages=QUESTION,
        max_tokens=8,
        temperature=0,
    )

    choice = completion.choices[0]
    assert completion.object == "chat.completion"
    assert completion.model == MODEL
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert choice.finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 8
    assert completion.usage.prompt_tokens > 5
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + 8
    details = completion.usage.prompt_tokens_details
    cached = details.cached_tokens if details is not None else None
    assert cached is not None and 0 <= cached < completion.usage.prompt_tokens


def test_a_second_question_under_the_same_system_prompt_is_served_from_cache(
    client: openai.OpenAI,
) -> None:
    system = "You are the harbour office's assistant. " + "Answer about tides and fees. " * 40

    def ask(question: str) -> Any:
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": system},
            {"role": "user", "content": question},
        ]
        stream = client.chat.completions.create(
            model=MODEL,
            messages=messages,
            max_tokens=2,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
        return [chunk.usage for chunk in stream if chunk.usage is not None][-1]

    first, second = ask("When is high tide?"), ask("What does a mooring cost?")

    assert first.prompt_tokens_details.cached_tokens < 200
    assert second.prompt_tokens_details.cached_tokens >= 200  # the system prompt, read once
    assert second.prompt_tokens_details.cached_tokens < second.prompt_tokens
    assert second.total_tokens == second.prompt_tokens + second.completion_tokens


def test_short_answer_ends_with_stop(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Reply with just the word yes."}],
        max_tokens=200,
        temperature=0,
    )

    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens < 200


def test_text_parts_and_system_prompt_are_accepted(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "You answer tersely."},
            {"role": "user", "content": [{"type": "text", "text": "Say hello."}]},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "Again."},
        ],
        max_tokens=5,
    )

    assert completion.choices[0].message.content is not None


def test_stream_follows_openai_framing(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=QUESTION,
        max_tokens=12,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    assert chunks[0].choices[0].delta.role == "assistant"
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert content_chunks
    finish = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finish == ["length"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12
    assert all(c.usage is None for c in chunks[:-1])
    assert len({c.id for c in chunks}) == 1


def test_stream_text_equals_non_stream_text(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(
        model=MODEL, messages=QUESTION, max_tokens=20, temperature=0
    )
    streamed = client.chat.completions.create(
        model=MODEL, messages=QUESTION, max_tokens=20, temperature=0, stream=True
    )

    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert text == whole.choices[0].message.content


def test_stop_sequence_is_not_returned(client: openai.OpenAI) -> None:
    def ask(stop: list[str] | None) -> openai.types.chat.ChatCompletion:
        return client.chat.completions.create(
            model=MODEL, messages=QUESTION, max_tokens=30, temperature=0, stop=stop
        )

    free = ask(None).choices[0].message.content
    assert free and len(free) > 4
    stop = free[2:4]

    stopped = ask([stop])

    assert stopped.choices[0].finish_reason == "stop"
    assert stopped.choices[0].message.content == free[: free.index(stop)]


def test_same_seed_same_answer(client: openai.OpenAI) -> None:
    def ask(seed: int) -> str | None:
        return (
            client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": "Tell me a story."}],
                max_tokens=24,
                temperature=1.0,
                seed=seed,
            )
            .choices[0]
            .message.content
        )

    first, again = ask(7), ask(7)
    others = {ask(s) for s in (8, 9, 10)}

    assert first == again
    assert len(others | {first}) > 1, "different seeds should sample differently"


def test_max_completion_tokens_limits_the_answer(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL,
        messages=QUESTION,
        max_completion_tokens=3,
    )

    assert completion.usage is not None and completion.usage.completion_tokens == 3


PERSON_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 20},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "role": {"type": "string", "enum": ["admin", "user", "guest"]},
    },
    "required": ["name", "age", "role"],
    "additionalProperties": False,
}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_json_schema_output_always_validates(client: openai.OpenAI, seed: int) -> None:
    completion = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Describe a user of a web site."}],
        temperature=1.0,
        seed=seed,
        max_tokens=200,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "person", "schema": PERSON_SCHEMA, "strict": True},
        },
    )

    content = completion.choices[0].message.content
    assert content is not None
    jsonschema.validate(json.loads(content), PERSON_SCHEMA)
    assert completion.choices[0].finish_reason == "stop"


def test_json_object_mode_returns_an_object(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "user", "content": "Return a JSON object with keys name and colour for a cat."}
        ],
        max_tokens=150,
        temperature=0.5,
        seed=4,
        response_format={"type": "json_object"},
    )

    content = completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert content is not None
    assert isinstance(json.loads(content), dict)


def test_invalid_json_schema_is_a_clear_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=MODEL,
            messages=QUESTION,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "bad", "schema": {"type": "no-such-type"}},
            },
        )

    assert caught.value.body["param"] == "response_format"  # type: ignore[index]


def nested_items(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "array", "items": schema}
    return schema


def schema_format(schema: dict[str, Any]) -> ResponseFormat:
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}


def test_a_long_max_length_is_answered_not_a_crash(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL,
        messages=QUESTION,
        max_tokens=8,
        response_format=schema_format({"type": "string", "maxLength": 20000}),
    )

    content, finish = (
        completion.choices[0].message.content or "",
        completion.choices[0].finish_reason,
    )
    assert content.startswith('"')
    assert finish == "length" or isinstance(json.loads(content), str)  # cut short, or complete


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        (nested_items(150), "nests deeper than 64 levels"),
        ({"enum": list(range(1000))}, "'enum' at # has 1000 members"),
        ({"type": "string", "minLength": 700}, "'minLength' 700 at # is above 500"),
    ],
)
def test_a_schema_beyond_the_limits_is_a_400_naming_it(
    client: openai.OpenAI, schema: dict[str, Any], words: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=MODEL, messages=QUESTION, max_tokens=500, response_format=schema_format(schema)
        )

    body: dict[str, Any] = caught.value.body  # type: ignore[assignment]
    assert (body["param"], body["code"]) == ("response_format", "schema_limit_exceeded")
    assert words in body["message"]


def test_a_schema_whose_shortest_answer_cannot_fit_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=MODEL,
            messages=QUESTION,
            max_tokens=1,
            response_format=schema_format({"type": "string", "minLength": 10_000_000}),
        )

    body: dict[str, Any] = caught.value.body  # type: ignore[assignment]
    assert body["param"] == "response_format"
    assert "more than 1 token(s) can hold" in body["message"]


def test_more_tools_than_openai_allows_is_a_400_naming_tools(client: openai.OpenAI) -> None:
    tool: Any = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}

    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=QUESTION, tools=[tool] * 129)

    body: dict[str, Any] = caught.value.body  # type: ignore[assignment]
    assert body["param"] == "tools"
    assert "128" in body["message"]


def test_a_schema_is_answered_in_its_own_key_order_within_its_integer_bounds(
    client: openai.OpenAI,
) -> None:
    schema = {
        "type": "object",
        "properties": {
            "reasoning": {"type": "string", "maxLength": 80},
            "answer": {"type": "integer", "minimum": 0, "maximum": 1},
        },
        "required": ["reasoning", "answer"],
        "additionalProperties": False,
    }
    for seed in range(3):
        completion = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "How many moons has Mars? Think first."}],
            max_tokens=120,
            seed=seed,
            response_format=schema_format(schema),
        )
        answer = json.loads(completion.choices[0].message.content or "")

        assert list(answer) == ["reasoning", "answer"]
        assert answer["answer"] in (0, 1)


@pytest.fixture(scope="module")
def vocab(model_path: Path) -> Iterator[llama_cpp.Llama]:
    llama = llama_cpp.Llama(str(model_path), vocab_only=True, verbose=False)
    yield llama
    llama.close()


def test_logit_bias_bans_and_forces_tokens_on_the_local_model(
    client: openai.OpenAI, vocab: llama_cpp.Llama
) -> None:
    plain = client.chat.completions.create(
        model=MODEL, messages=QUESTION, max_tokens=1, temperature=0
    )
    said = plain.choices[0].message.content or ""
    first = vocab.tokenize(said.encode(), add_bos=False, special=False)[0]
    forced_id = vocab.tokenize(b" zebra", add_bos=False, special=False)[0]

    banned = client.chat.completions.create(
        model=MODEL, messages=QUESTION, max_tokens=1, temperature=0, logit_bias={str(first): -100}
    )
    forced = client.chat.completions.create(
        model=MODEL,
        messages=QUESTION,
        max_tokens=3,
        temperature=0,
        logit_bias={str(forced_id): 100},
    )

    assert banned.choices[0].message.content != said
    assert forced.choices[0].message.content == vocab.detokenize([forced_id] * 3).decode()


def test_logit_bias_outside_the_vocabulary_is_a_400_naming_it(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=MODEL, messages=QUESTION, max_tokens=1, logit_bias={"99999999": 5}
        )

    body: dict[str, Any] = caught.value.body  # type: ignore[assignment]
    assert body["param"] == "logit_bias"
    assert "not in the vocabulary" in body["message"]


def test_a_strict_schema_with_a_bound_the_grammar_cannot_hold_is_a_400_naming_it(
    client: openai.OpenAI,
) -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {"score": {"type": "number", "minimum": 0, "maximum": 1}},
        "required": ["score"],
    }
    strict: ResponseFormat = {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema, "strict": True},
    }

    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=QUESTION, response_format=strict)
    relaxed = client.chat.completions.create(
        model=MODEL, messages=QUESTION, max_tokens=20, response_format=schema_format(schema)
    )

    body: dict[str, Any] = caught.value.body  # type: ignore[assignment]
    assert body["param"] == "response_format"
    assert "'minimum' at #/properties/score" in body["message"]
    assert relaxed.choices[0].message.content
