"""AnthropicBackend against the fake Messages API: translation both ways, streams, faults."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from corral.backends.anthropic_api import AnthropicBackend, build
from corral.backends.base import (
    ChatMessage,
    EmbeddingRequest,
    Finished,
    GenerationRequest,
    SamplingParams,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolSpec,
)
from corral.backends.remote.common import prompt_token_bound
from corral.errors import (
    ClientClosedRequest,
    ConfigError,
    InvalidRequest,
    UpstreamError,
    UpstreamRejected,
)
from corral.settings import RemoteModelConfig
from tests.backends.remote.kit import chat, collect, eventually, text_of, user
from tests.providers.anthropic_fake import API_KEY, AnthropicFake, Fault
from tests.support import free_port

# The SDK warns on each call to a model it knows as deprecated (hidden by default outside tests).
pytestmark = pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")

WEATHER = ToolSpec(
    "get_weather",
    "The weather in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[AnthropicFake, str]]:
    fake = AnthropicFake()
    with fake.running() as url:
        yield fake, url


@pytest.fixture
def fake(served: tuple[AnthropicFake, str]) -> AnthropicFake:
    served[0].reset()
    return served[0]


def config(url: str, **fields: Any) -> RemoteModelConfig:
    values: dict[str, Any] = {
        "name": "claude-test",
        "backend": "anthropic",
        "upstream_model": "claude-3-5-haiku-latest",
        "base_url": url,
        "api_key_env": "FAKE_ANTHROPIC_KEY",
        "context_length": 200_000,
        "timeout_s": 3,
    }
    return RemoteModelConfig(**(values | fields))


@pytest.fixture
async def backend(
    served: tuple[AnthropicFake, str], fake: AnthropicFake
) -> AsyncIterator[AnthropicBackend]:
    backend = AnthropicBackend(config(served[1]), API_KEY)
    yield backend
    await backend.close()


# -- plain answers ------------------------------------------------------------------------------


async def test_a_chat_is_answered_with_the_providers_usage(
    backend: AnthropicBackend, fake: AnthropicFake
) -> None:
    request = chat(user("hello there corral"))

    result = await backend.generate(request)

    assert result.text == "hello there corral"
    assert result.finish_reason == "stop"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (3, 3)
    assert (request.meter.prompt_tokens, request.meter.completion_tokens) == (3, 3)
    sent = fake.requests[-1]
    assert sent["model"] == "claude-3-5-haiku-latest"
    assert sent["max_tokens"] == 4096
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hello there corral"}]}
    ]
    headers = fake.headers[-1]
    assert API_KEY in (headers.get("x-api-key"), headers.get("authorization", "")[7:])
    assert fake.headers[-1]["anthropic-version"]


async def test_a_plain_prompt_is_one_user_turn(
    backend: AnthropicBackend, fake: AnthropicFake
) -> None:
    request = GenerationRequest("req_test", SamplingParams(), prompt="complete this")

    result = await backend.generate(request)

    assert fake.requests[-1]["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "complete this"}]}
    ]
    assert result.text == "complete this"


async def test_max_tokens_defaults_to_the_context_length_when_smaller(
    served: tuple[AnthropicFake, str], fake: AnthropicFake
) -> None:
    small = AnthropicBackend(config(served[1], context_length=1000), API_KEY)

    await small.generate(chat(user("hi")))
    await small.close()

    assert fake.requests[-1]["max_tokens"] == 1000


async def test_system_messages_go_to_the_top_level_system_field(
    backend: AnthropicBackend, fake: AnthropicFake
) -> None:
    request = chat(
        ChatMessage("system", "Be brief."), user("hi"), ChatMessage("system", "Be kind.")
    )

    await backend.generate(request)

    sent = fake.requests[-1]
    assert sent["system"] == "Be brief.\n\nBe kind."
    assert [turn["role"] for turn in sent["messages"]] == ["user"]


async def test_consecutive_turns_of_one_role_are_merged(
    backend: AnthropicBackend, fake: AnthropicFake
) -> None:
    request = chat(
        user("one"),
        user("two"),
        ChatMessage("assistant", "three"),
        ChatMessage("assistant", "four"),
        user("five"),
    )

    result = await backend.generate(request)

    turns = fake.requests[-1]["messages"]
    assert [turn["role"] for turn in turns] == ["user", "assistant", "user"]
    assert [block["text"] for block in turns[0]["content"]] == ["one", "two"]
    assert [block["text"] for block in turns[1]["content"]] == ["three", "four"]
    assert result.text == "five"


async def test_stop_sequences_are_sent_and_end_the_answer(
    backend: AnthropicBackend, fake: AnthropicFake
) -> None:
    result = await backend.generate(chat(user("alpha beta END gamma"), stop=("END",)))

    assert fake.requests[-1]["stop_sequences"] == ["END"]
    assert result.text == "alpha beta "
    assert result.finish_reason == "stop"


async def test_running_out_of_max_tokens_is_length(backend: AnthropicBackend) -> None:
    result = await backend.generate(chat(user("a b c d e f"), max_tokens=3))

    assert (result.text, result.finish_reason) == ("a b c", "length")


async def test_temperature_is_clamped_to_anthropics_range(
    backend: AnthropicBackend, fake: AnthropicFake
) -> None:
    await backend.generate(chat(user("hi"), temperature=1.8))
    hot = fake.requests[-1]
    await backend.generate(chat(user("hi"), temperature=0.2, top_p=0.9))
    cool = fake.requests[-1]

    assert "temperature" not in hot  # clamped to 1.0, Anthropic's default
    assert (cool["temperature"], cool["top_p"]) == (0.2, 0.9)


async def test_a_plain_stream_ends_with_the_providers_usage(backend: AnthropicBackend) -> None:
    request = chat(user("streaming is fun"))

    events = await collect(backend, request)

    assert text_of(events) == "streaming is fun"
    assert len([e for e in events if isinstance(e, TextDelta)]) == 3
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.reason == "stop"
    assert (finished.usage.prompt_tokens, finished.usage.completion_tokens) == (3, 3)
    assert (request.meter.prompt_tokens, request.meter.completion_tokens) == (3, 3)


# -- tools --------------------------------------------------------------------------------------


async def test_tools_are_sent_with_input_schemas_and_calls_come_back(
    backend: AnthropicBackend, fake: AnthropicFake
) -> None:
    request = chat(user("Paris"), tools=(WEATHER,), tool_choice="required")

    result = await backend.generate(request)

    sent = fake.requests[-1]
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "description": "The weather in a city.",
            "input_schema": WEATHER.parameters,
        }
    ]
    assert sent["tool_choice"] == {"type": "any"}
    assert result.finish_reason == "tool_calls"
    assert result.tool_calls is not None and len(result.tool_calls) == 1
    call = result.tool_calls[0]
    assert call.name == "get_weather" and call.id.startswith("toolu_")
    assert json.loads(call.arguments) == {"city": "Paris"}


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("get_weather", {"type": "tool", "name": "get_weather"}),
    ],
)
async def test_tool_choice_maps_to_anthropics(
    backend: AnthropicBackend, fake: AnthropicFake, choice: str, sent: dict[str, str]
) -> None:
    await backend.generate(chat(user("hi"), tools=(WEATHER,), tool_choice=choice))

    assert fake.requests[-1]["tool_choice"] == sent


async def test_auto_tool_use_keeps_the_text_before_the_call(backend: AnthropicBackend) -> None:
    result = await backend.generate(chat(user("use get_weather"), tools=(WEATHER,)))

    assert result.text == "Let me use get_weather."
    assert result.tool_calls is not None and result.finish_reason == "tool_calls"


async def test_a_tool_round_trip_sends_tool_use_and_tool_result_blocks(
    backend: AnthropicBackend, fake: AnthropicFake
) -> None:
    call = ToolCall("toolu_1", "get_weather", '{"city": "Paris"}')
    request = chat(
        user("weather?"),
        ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", "sunny, 21 C", tool_call_id="toolu_1"),
        tools=(WEATHER,),
    )

    result = await backend.generate(request)

    turns = fake.requests[-1]["messages"]
    assert turns[1] == {
        "role": "assistant",
        "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
        ],
    }
    assert turns[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny, 21 C"}
    ]
    assert result.text == "tool said: sunny, 21 C"


async def test_streamed_tool_calls_arrive_as_deltas(backend: AnthropicBackend) -> None:
    request = chat(user("Lisbon"), tools=(WEATHER,), tool_choice="get_weather")

    events = await collect(backend, request)

    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert (deltas[0].index, deltas[0].name) == (0, "get_weather")
    assert deltas[0].id is not None and deltas[0].id.startswith("toolu_")
    assert all(d.index == 0 and d.id is None for d in deltas[1:])
    assert json.loads("".join(d.arguments for d in deltas)) == {"city": "Lisbon"}
    assert isinstance(events[-1], Finished) and events[-1].reason == "tool_calls"


# -- JSON output --------------------------------------------------------------------------------


async def test_json_mode_is_emulated_with_a_forced_tool(
    backend: AnthropicBackend, fake: AnthropicFake
) -> None:
    result = await backend.generate(chat(user("give json"), json_schema={}))

    sent = fake.requests[-1]
    assert sent["tool_choice"] == {"type": "tool", "name": "respond"}
    assert sent["tools"][0]["input_schema"] == {"type": "object"}
    assert "respond" in sent["system"]
    assert json.loads(result.text) == {"text": "give json"}
    assert (result.finish_reason, result.tool_calls) == ("stop", None)


async def test_a_json_schema_constrains_the_answer(backend: AnthropicBackend) -> None:
    schema = {"type": "object", "properties": {"count": {"type": "integer"}}}

    result = await backend.generate(chat(user("three words here"), json_schema=schema))

    assert json.loads(result.text) == {"count": 3}


async def test_a_non_object_schema_is_wrapped_and_unwrapped_also_when_streamed(
    backend: AnthropicBackend, fake: AnthropicFake
) -> None:
    schema = {"type": "array", "items": {"type": "string"}}

    result = await backend.generate(chat(user("x"), json_schema=schema))
    events = await collect(backend, chat(user("x"), json_schema=schema))

    assert fake.requests[-1]["tools"][0]["input_schema"]["properties"]["value"] == schema
    assert json.loads(result.text) == ["x"]
    assert json.loads(text_of(events)) == ["x"]
    assert isinstance(events[-1], Finished) and events[-1].reason == "stop"


async def test_json_mode_streams_the_tool_input_as_text(backend: AnthropicBackend) -> None:
    events = await collect(backend, chat(user("stream json"), json_schema={}))

    assert json.loads(text_of(events)) == {"text": "stream json"}


# -- what Anthropic cannot do -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"logprobs": True}, "logprobs"),
        ({"json_schema": {}, "tools": (WEATHER,)}, "response_format"),
    ],
)
async def test_unsupported_options_are_refused_before_calling(
    backend: AnthropicBackend, fake: AnthropicFake, params: dict[str, Any], param: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await backend.generate(chat(user("hi"), **params))

    assert caught.value.param == param
    assert fake.requests == []


async def test_embeddings_are_refused_naming_the_model(backend: AnthropicBackend) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await backend.embed(EmbeddingRequest(["hi"]))

    assert caught.value.param == "model" and "no embeddings" in caught.value.message


async def test_prompt_tokens_are_counted_as_a_safe_bound(backend: AnthropicBackend) -> None:
    request = chat(user("count me"))

    assert await backend.count_prompt_tokens(request) == prompt_token_bound(request)


def test_build_reads_the_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAKE_ANTHROPIC_KEY", raising=False)
    with pytest.raises(ConfigError, match="FAKE_ANTHROPIC_KEY"):
        build(config("http://127.0.0.1:9"))
    with pytest.raises(ConfigError, match="api_key_env"):
        build(config("http://127.0.0.1:9", api_key_env=None))

    monkeypatch.setenv("FAKE_ANTHROPIC_KEY", API_KEY)
    built = build(config("http://127.0.0.1:9", context_length=1234))

    assert isinstance(built.backend, AnthropicBackend) and built.context_length == 1234


# -- faults -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "code", "retry_after"),
    [
        (
            Fault(429, "rate_limit_error", "Rate limited", retry_after="7"),
            "upstream_rate_limited",
            7,
        ),
        (Fault(500, "api_error", "Internal server error"), "upstream_unavailable", None),
        (Fault(529, "overloaded_error", "Overloaded"), "upstream_unavailable", None),
    ],
)
@pytest.mark.parametrize("streamed", [False, True])
async def test_provider_failures_are_retryable_upstream_errors(
    backend: AnthropicBackend,
    fake: AnthropicFake,
    fault: Fault,
    code: str,
    retry_after: float | None,
    streamed: bool,
) -> None:
    fake.fail_next(fault)
    request = chat(user("hi"))

    with pytest.raises(UpstreamError) as caught:
        await (backend.stream(request) if streamed else backend.generate(request))

    error = caught.value
    assert (error.retryable, error.code, error.retry_after_s) == (True, code, retry_after)
    assert error.upstream_status == fault.status
    assert "claude-test" in error.message and fault.message not in error.message
    assert fault.message in (error.detail or "")  # the provider's words: the operator's log


async def test_a_request_the_provider_refuses_is_the_clients_to_fix(
    backend: AnthropicBackend,
) -> None:
    with pytest.raises(UpstreamRejected) as caught:
        await backend.generate(chat(user("hi"), max_tokens=100_000))

    error = caught.value
    assert (error.status_code, error.retryable, error.upstream_status) == (400, False, 400)
    assert "claude-test" in error.message and "max_tokens: 100000 > 8192" in error.message


async def test_a_wrong_key_is_an_auth_failure_that_does_not_show_the_key(
    served: tuple[AnthropicFake, str],
) -> None:
    wrong = "sk-ant-wrong-key-do-not-print"
    backend = AnthropicBackend(config(served[1]), wrong)

    with pytest.raises(UpstreamError) as caught:
        await backend.generate(chat(user("hi")))
    await backend.close()

    assert (caught.value.code, caught.value.retryable) == ("upstream_auth_failed", False)
    assert wrong not in caught.value.message


async def test_an_unreachable_provider_is_retryable() -> None:
    backend = AnthropicBackend(config(f"http://127.0.0.1:{free_port()}"), API_KEY)

    with pytest.raises(UpstreamError) as caught:
        await backend.generate(chat(user("hi")))
    await backend.close()

    assert (caught.value.code, caught.value.retryable) == ("upstream_unreachable", True)
    assert API_KEY not in caught.value.message


async def test_a_hanging_provider_times_out_at_timeout_s(
    served: tuple[AnthropicFake, str], fake: AnthropicFake
) -> None:
    backend = AnthropicBackend(config(served[1], timeout_s=0.5), API_KEY)
    fake.fail_next(Fault(hang_s=10))
    started = time.monotonic()

    with pytest.raises(UpstreamError) as caught:
        await backend.generate(chat(user("hi")))
    await backend.close()

    assert time.monotonic() - started < 2
    assert (caught.value.code, caught.value.retryable) == ("upstream_timeout", True)


async def test_a_stream_that_stalls_times_out_at_timeout_s(
    served: tuple[AnthropicFake, str], fake: AnthropicFake
) -> None:
    backend = AnthropicBackend(config(served[1], timeout_s=0.5), API_KEY)
    fake.fail_next(Fault(hang_s=10, hang_after=4))
    started = time.monotonic()

    with pytest.raises(UpstreamError) as caught:
        await collect(backend, chat(user("some words to stream")))
    await backend.close()

    assert time.monotonic() - started < 2
    assert (caught.value.code, caught.value.retryable) == ("upstream_timeout", True)


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault(reset_after=4), "upstream_unreachable"),
        (Fault(malformed_after=4), "upstream_malformed"),
        (Fault(end_after=4), "upstream_malformed"),
        (Fault(error_event_after=4), "upstream_unavailable"),
    ],
)
async def test_a_broken_stream_raises_a_retryable_error_after_its_content(
    backend: AnthropicBackend, fake: AnthropicFake, fault: Fault, code: str
) -> None:
    fake.fail_next(fault)
    seen: list[StreamEvent] = []

    with pytest.raises(UpstreamError) as caught:
        async for event in await backend.stream(chat(user("one two three four"))):
            seen.append(event)

    assert (caught.value.code, caught.value.retryable) == (code, True)
    assert text_of(seen) == "one "  # message_start, ping, block start, one delta
    assert not any(isinstance(event, Finished) for event in seen)


async def test_an_overloaded_error_event_counts_as_529(
    backend: AnthropicBackend, fake: AnthropicFake
) -> None:
    fake.fail_next(Fault(error_event_after=2))

    with pytest.raises(UpstreamError) as caught:
        await collect(backend, chat(user("hi")))

    assert caught.value.upstream_status == 529


# -- cancellation -------------------------------------------------------------------------------


async def test_a_cancelled_request_stops_waiting_and_hangs_up(
    backend: AnthropicBackend, fake: AnthropicFake
) -> None:
    fake.fail_next(Fault(hang_s=10))
    request = chat(user("hi"))
    asyncio.get_running_loop().call_later(0.2, request.cancelled.set)
    started = time.monotonic()

    with pytest.raises(ClientClosedRequest):
        await backend.generate(request)

    assert time.monotonic() - started < 1
    await eventually(lambda: fake.disconnects == 1)


async def test_a_cancelled_stream_ends_promptly_without_finishing(
    backend: AnthropicBackend, fake: AnthropicFake
) -> None:
    fake.fail_next(Fault(hang_s=10, hang_after=4))
    request = chat(user("one two three four"))
    events = await backend.stream(request)
    seen = [await anext(events)]  # then the provider stalls
    asyncio.get_running_loop().call_later(0.2, request.cancelled.set)
    started = time.monotonic()

    seen += [event async for event in events]

    assert time.monotonic() - started < 1
    assert text_of(seen) == "one "
    assert not any(isinstance(event, Finished) for event in seen)
    assert request.meter.completion_tokens > 0  # estimated, for billing what was sent
    await eventually(lambda: fake.disconnects == 1)
