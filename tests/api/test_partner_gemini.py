"""A partner model on Gemini, end to end: the fake Gemini API behind a real `corral serve`,
driven with the official OpenAI SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.providers.gemini_fake import FAKE_KEY, Fault, GeminiFake
from tests.providers.partner_kit import Partner, behind_corral, weather_tool, with_tool_result

MODEL = "gemini-flash"
CONFIG = """
embedded_model = false
[[models]]
name = "{model}"
tier = "partner"
backend = "gemini"
base_url = "{url}"
api_key_env = "FAKE_GEMINI_KEY"
upstream_model = "gemini-2.0-flash"
timeout_s = 10
input_price_per_mtok = "0.10"
output_price_per_mtok = "0.40"
"""
WEATHER = weather_tool("city")


@pytest.fixture(scope="module")
def partner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Partner[GeminiFake]]:
    home = tmp_path_factory.mktemp("partner-gemini")
    env = {"FAKE_GEMINI_KEY": FAKE_KEY}
    with behind_corral(GeminiFake(), home, CONFIG, env, model=MODEL) as partner:
        yield partner


@pytest.fixture
def sdk(partner: Partner[GeminiFake]) -> openai.OpenAI:
    partner.fresh()  # every test starts on a fresh fake, read or not
    return partner.sdk


@pytest.fixture
def fake(partner: Partner[GeminiFake]) -> GeminiFake:
    return partner.fresh()


def test_chat_answer_and_usage_are_the_providers(sdk: openai.OpenAI, fake: GeminiFake) -> None:
    completion = sdk.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "be terse"},
            {"role": "user", "content": "say hello"},
        ],
    )

    choice = completion.choices[0]
    assert choice.message.content == "Echo: say hello"
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (4, 3)
    sent = fake.requests[-1].body
    assert sent["systemInstruction"]["parts"] == [{"text": "be terse"}]
    assert sent["contents"] == [{"role": "user", "parts": [{"text": "say hello"}]}]


def test_stream_arrives_in_pieces_with_the_providers_usage(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "one two three"}],
        stream=True,
        stream_options={"include_usage": True},
    )

    chunks = list(stream)

    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert pieces == ["Echo: ", "one ", "two ", "three"]
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    usage = chunks[-1].usage
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (3, 4)


def test_tool_call_round_trip(sdk: openai.OpenAI, fake: GeminiFake) -> None:
    question: list[ChatCompletionMessageParam] = [{"role": "user", "content": "weather in rome"}]
    asked = sdk.chat.completions.create(
        model=MODEL, messages=question, tools=[WEATHER], tool_choice="required"
    )
    calls = asked.choices[0].message.tool_calls or []
    assert asked.choices[0].finish_reason == "tool_calls" and len(calls) == 1
    call = calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "weather in rome"}

    answered = sdk.chat.completions.create(
        model=MODEL,
        tools=[WEATHER],
        messages=with_tool_result(question, call, '{"celsius": 21}'),
    )

    assert answered.choices[0].message.content == 'get_weather returned {"celsius": 21}'
    result_turn = fake.requests[-1].body["contents"][-1]
    assert result_turn["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"celsius": 21}}}
    ]


def test_a_provider_refusal_is_a_400_naming_the_backend(
    sdk: openai.OpenAI, fake: GeminiFake
) -> None:
    fake.fail_next(Fault.error(400))

    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])

    assert caught.value.status_code == 400
    assert MODEL in caught.value.message
    assert len(fake.requests) == 1


def test_the_provider_key_never_reaches_the_server_log(
    sdk: openai.OpenAI, fake: GeminiFake, partner: Partner[GeminiFake]
) -> None:
    fake.fail_next(*[Fault.error(500)] * 5)  # however often the router retries
    with pytest.raises(openai.APIError):
        sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])

    log = partner.server.log_once_it_has('"status":502')

    assert '"status":502' in log  # the failed request was logged
    assert FAKE_KEY not in log
