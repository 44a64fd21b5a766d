"""A partner model served by OpenAI (the fake), through a real `corral serve` and the SDK."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.providers.openai_fake import KEY, OpenAIFake
from tests.providers.partner_kit import (
    OPENAI_ENV,
    Partner,
    behind_corral,
    weather_tool,
    with_tool_result,
)
from tests.support import corral_env

CONFIG = """
embedded_model = false

[[models]]
name = "gpt-mini"
tier = "partner"
backend = "openai"
base_url = "{url}/v1"
api_key_env = "FAKE_OPENAI_KEY"
upstream_model = "gpt-4o-mini"
input_price_per_mtok = "0.15"
output_price_per_mtok = "0.60"
timeout_s = 10

[[models]]
name = "vllm-mini"
tier = "premium"
backend = "openai-compatible"
base_url = "{url}/v1"
upstream_model = "gpt-4o-mini"
timeout_s = 10
"""
WEATHER = weather_tool("text")


@pytest.fixture(scope="module")
def partner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Partner[OpenAIFake]]:
    fake = OpenAIFake(keys=(KEY, "EMPTY"))  # "EMPTY": what keyless compatible models send
    home = tmp_path_factory.mktemp("partner-openai")
    with behind_corral(fake, home, CONFIG, OPENAI_ENV) as partner:
        yield partner


@pytest.fixture
def sdk(partner: Partner[OpenAIFake]) -> openai.OpenAI:
    partner.fresh()  # every test starts on a fresh fake, read or not
    return partner.sdk


@pytest.fixture
def fake(partner: Partner[OpenAIFake]) -> OpenAIFake:
    return partner.fresh()


def ask(text: str) -> list[ChatCompletionMessageParam]:
    return [{"role": "user", "content": text}]


def test_chat_answers_with_the_providers_text_and_usage(
    sdk: openai.OpenAI, fake: OpenAIFake
) -> None:
    completion = sdk.chat.completions.create(model="gpt-mini", messages=ask("hello partner world"))

    assert completion.choices[0].message.content == "hello partner world"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert fake.received[-1].usage == completion.usage.model_dump(
        include={"prompt_tokens", "completion_tokens", "total_tokens"}
    )
    assert fake.bodies()[-1]["model"] == "gpt-4o-mini"


def test_stream_relays_the_words_and_the_providers_usage(
    sdk: openai.OpenAI, fake: OpenAIFake
) -> None:
    stream = sdk.chat.completions.create(
        model="gpt-mini",
        messages=ask("one two three four"),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three four"
    usage = chunks[-1].usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (4, 4)
    assert fake.received[-1].usage == {
        "prompt_tokens": 4,
        "completion_tokens": 4,
        "total_tokens": 8,
    }


def test_a_tool_call_round_trip(sdk: openai.OpenAI, fake: OpenAIFake) -> None:
    question = ask("please call get_weather for Paris")
    first = sdk.chat.completions.create(model="gpt-mini", messages=question, tools=[WEATHER])
    calls = first.choices[0].message.tool_calls
    assert first.choices[0].finish_reason == "tool_calls" and calls
    call = calls[0]
    assert call.type == "function" and call.function.name == "get_weather"

    history = with_tool_result(question, call, "sunny, 21 C")
    second = sdk.chat.completions.create(model="gpt-mini", messages=history, tools=[WEATHER])

    assert second.choices[0].message.content == "Tool said: sunny, 21 C"
    sent = fake.bodies()[-1]["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call.id and sent[2]["tool_call_id"] == call.id


def test_a_streamed_tool_call_arrives_in_pieces(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="gpt-mini", messages=ask("call get_weather"), tools=[WEATHER], stream=True
    )
    pieces = [
        call
        for chunk in stream
        if chunk.choices
        for call in chunk.choices[0].delta.tool_calls or ()
    ]

    assert pieces[0].function is not None and pieces[0].function.name == "get_weather"
    arguments = "".join(p.function.arguments or "" for p in pieces if p.function)
    assert json.loads(arguments) == {"text": "call get_weather"}


def test_a_provider_400_is_a_400_naming_the_backend_without_the_key(
    sdk: openai.OpenAI, fake: OpenAIFake
) -> None:
    fake.fail_next("bad_request", message=f"Request made with key {KEY} is malformed")

    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model="gpt-mini", messages=ask("hi"))

    assert caught.value.status_code == 400
    assert "gpt-mini" in caught.value.message
    assert KEY not in caught.value.response.text


def test_a_provider_401_is_a_502_upstream_auth_failed(
    sdk: openai.OpenAI, partner: Partner[OpenAIFake]
) -> None:
    fake = partner.fake
    fake.keys = ("sk-some-other-key-entirely",)  # the operator's key was revoked
    try:
        with pytest.raises(openai.APIStatusError) as caught:
            sdk.chat.completions.create(model="gpt-mini", messages=ask("hi"))
    finally:
        fake.keys = (KEY, "EMPTY")

    assert caught.value.status_code == 502
    assert caught.value.code == "upstream_auth_failed"
    assert KEY not in caught.value.response.text


def test_an_openai_compatible_model_without_a_key(sdk: openai.OpenAI, fake: OpenAIFake) -> None:
    completion = sdk.chat.completions.create(
        model="vllm-mini", messages=ask("served by vllm"), max_tokens=2
    )

    assert completion.choices[0].message.content == "served by"
    assert completion.choices[0].finish_reason == "length"
    assert fake.received[-1].key == "EMPTY"
    assert fake.bodies()[-1]["max_tokens"] == 2


def test_the_provider_key_never_appears_in_the_log_or_config_show(
    sdk: openai.OpenAI, partner: Partner[OpenAIFake], fake: OpenAIFake
) -> None:
    fake.fail_next("bad_request", message=f"echoing {KEY}")
    with pytest.raises(openai.BadRequestError):
        sdk.chat.completions.create(model="gpt-mini", messages=ask("hi"))

    shown = subprocess.run(
        [sys.executable, "-m", "corral", "config", "show", "--config", "corral.toml"],
        cwd=partner.server.home,
        env=corral_env(partner.server.home, **OPENAI_ENV),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert shown.returncode == 0, shown.stderr
    assert "gpt-mini" in shown.stdout
    assert KEY not in shown.stdout + shown.stderr
    assert KEY not in partner.server.log_text()


def test_the_responses_api_passes_function_tools_natively(
    sdk: openai.OpenAI, fake: OpenAIFake
) -> None:
    response = sdk.responses.create(
        model="gpt-mini",
        input="please call get_weather for Paris",
        tools=[{"type": "function", "strict": False, **WEATHER["function"]}],  # type: ignore[typeddict-item]
    )

    calls = [item for item in response.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    sent = fake.bodies()[-1]
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["messages"][-1]["content"] == "please call get_weather for Paris"
