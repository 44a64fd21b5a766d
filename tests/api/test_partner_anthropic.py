"""A partner model served by Anthropic (the fake), through a real `corral serve` and the SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.providers.anthropic_fake import API_KEY, AnthropicFake, Fault
from tests.providers.partner_kit import Partner, behind_corral, weather_tool, with_tool_result

CONFIG = """
embedded_model = false

[[models]]
name = "claude-small"
tier = "partner"
backend = "anthropic"
base_url = "{url}"
api_key_env = "FAKE_ANTHROPIC_KEY"
upstream_model = "claude-3-5-haiku-latest"
context_length = 200000
input_price_per_mtok = "0.80"
output_price_per_mtok = "4.00"
timeout_s = 10
"""
WEATHER = weather_tool("city")


@pytest.fixture(scope="module")
def partner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Partner[AnthropicFake]]:
    home = tmp_path_factory.mktemp("partner-anthropic")
    env = {"FAKE_ANTHROPIC_KEY": API_KEY}
    with behind_corral(AnthropicFake(), home, CONFIG, env) as partner:
        yield partner


@pytest.fixture
def sdk(partner: Partner[AnthropicFake]) -> openai.OpenAI:
    partner.fresh()  # every test starts on a fresh fake, read or not
    return partner.sdk


@pytest.fixture
def fake(partner: Partner[AnthropicFake]) -> AnthropicFake:
    return partner.fresh()


def ask(text: str) -> list[ChatCompletionMessageParam]:
    return [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]


def test_chat_answers_with_the_providers_text_and_usage(
    sdk: openai.OpenAI, fake: AnthropicFake
) -> None:
    completion = sdk.chat.completions.create(model="claude-small", messages=ask("hello claude"))

    assert completion.choices[0].message.content == "hello claude"
    assert completion.choices[0].finish_reason == "stop"
    usage = fake.answers[-1]["usage"]
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (
        usage["input_tokens"],
        usage["output_tokens"],
    )
    sent = fake.requests[-1]
    assert sent["model"] == "claude-3-5-haiku-latest"
    assert sent["system"] == "Be brief."


def test_stream_relays_the_words_and_the_providers_usage(
    sdk: openai.OpenAI, fake: AnthropicFake
) -> None:
    stream = sdk.chat.completions.create(
        model="claude-small",
        messages=ask("one two three four"),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three four"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage = chunks[-1].usage
    assert usage is not None
    expected = fake.answers[-1]["usage"]
    assert (usage.prompt_tokens, usage.completion_tokens) == (
        expected["input_tokens"],
        expected["output_tokens"],
    )
    assert fake.requests[-1]["stream"] is True


def test_a_tool_call_round_trip(sdk: openai.OpenAI, fake: AnthropicFake) -> None:
    question = ask("Paris")
    first = sdk.chat.completions.create(
        model="claude-small", messages=question, tools=[WEATHER], tool_choice="required"
    )
    calls = first.choices[0].message.tool_calls
    assert first.choices[0].finish_reason == "tool_calls" and calls
    call = calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}

    history = with_tool_result(question, call, "sunny, 21 C")
    second = sdk.chat.completions.create(model="claude-small", messages=history, tools=[WEATHER])

    assert second.choices[0].message.content == "tool said: sunny, 21 C"
    turns = fake.requests[-1]["messages"]
    assert turns[1]["content"][0] == {
        "type": "tool_use",
        "id": call.id,
        "name": "get_weather",
        "input": {"city": "Paris"},
    }
    assert turns[2]["content"][0]["tool_use_id"] == call.id


def test_a_streamed_tool_call_arrives_in_pieces(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="claude-small",
        messages=ask("Lisbon"),
        tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        stream=True,
    )
    chunks = list(stream)
    pieces = [
        call
        for chunk in chunks
        if chunk.choices
        for call in chunk.choices[0].delta.tool_calls or ()
    ]

    assert pieces[0].function is not None and pieces[0].function.name == "get_weather"
    arguments = "".join(p.function.arguments or "" for p in pieces if p.function)
    assert json.loads(arguments) == {"city": "Lisbon"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


def test_a_provider_400_is_a_400_naming_the_backend(
    sdk: openai.OpenAI, fake: AnthropicFake
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model="claude-small", messages=ask("hi"), max_tokens=100_000)

    assert caught.value.status_code == 400
    assert "claude-small" in caught.value.message
    assert "max_tokens: 100000 > 8192" in caught.value.message


def test_an_overloaded_provider_is_a_retryable_upstream_error(
    sdk: openai.OpenAI, fake: AnthropicFake
) -> None:
    overloaded = Fault(529, "overloaded_error", "Overloaded")
    fake.fail_next(*[overloaded] * 10)

    with pytest.raises(openai.APIStatusError) as caught:
        sdk.chat.completions.create(model="claude-small", messages=ask("hi"))

    assert caught.value.status_code == 502
    assert caught.value.code == "upstream_unavailable"


def test_the_provider_key_never_appears_in_answers_or_the_log(
    sdk: openai.OpenAI, partner: Partner[AnthropicFake], fake: AnthropicFake
) -> None:
    fake.fail_next(Fault(400, "invalid_request_error", f"bad request made with {API_KEY}"))

    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model="claude-small", messages=ask("hi"))

    assert API_KEY not in caught.value.response.text
    assert "[redacted]" in caught.value.message
    assert API_KEY not in partner.server.log_text()
