"""`GeminiBackend` against the fake Gemini API: translation both ways, usage, faults, cancelling."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from google.genai.errors import ClientError

from corral.backends.base import (
    ChatMessage,
    EmbeddingRequest,
    Finished,
    GenerationRequest,
    SamplingParams,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolSpec,
)
from corral.backends.gemini_api import GeminiBackend, build
from corral.backends.remote.common import prompt_token_bound
from corral.errors import (
    ClientClosedRequest,
    ConfigError,
    InvalidRequest,
    UpstreamError,
    UpstreamRejected,
)
from corral.settings import RemoteModelConfig
from tests.backends.remote.kit import chat, collect, drain, user
from tests.providers.gemini_fake import FAKE_KEY, Fault, GeminiFake

TIMEOUT_S = 1.0
WEATHER = ToolSpec(
    name="get_weather",
    description="The weather in a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)
CLOCK = ToolSpec(name="get_time", parameters={"type": "object", "properties": {}})


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[GeminiFake, str]]:
    fake = GeminiFake()
    with fake.running() as url:
        yield fake, url


@pytest.fixture
def fake(served: tuple[GeminiFake, str]) -> Iterator[GeminiFake]:
    served[0].reset()
    yield served[0]
    served[0].reset()


def config(url: str, **fields: Any) -> RemoteModelConfig:
    values: dict[str, Any] = {
        "name": "gemini-flash",
        "backend": "gemini",
        "upstream_model": "gemini-2.0-flash",
        "base_url": url,
        "api_key_env": "FAKE_GEMINI_KEY",
        "timeout_s": TIMEOUT_S,
    }
    return RemoteModelConfig(**(values | fields))


@pytest.fixture
async def backend(served: tuple[GeminiFake, str], fake: GeminiFake) -> AsyncIterator[GeminiBackend]:
    gemini = GeminiBackend(config(served[1]), FAKE_KEY)
    yield gemini
    await gemini.close()


def body(fake: GeminiFake) -> dict[str, Any]:
    return fake.requests[-1].body


# -- plain answers -----------------------------------------------------------------------------


async def test_answer_carries_text_provider_usage_and_stop(
    backend: GeminiBackend, fake: GeminiFake
) -> None:
    request = chat(user("Hello there"), temperature=0.3, top_p=0.8)

    result = await backend.generate(request)

    assert result.text == "Echo: Hello there"
    assert result.finish_reason == "stop"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (2, 3)
    assert (request.meter.prompt_tokens, request.meter.completion_tokens) == (2, 3)
    sent = fake.requests[-1]
    assert (sent.model, sent.action) == ("gemini-2.0-flash", "generateContent")
    assert sent.headers["x-goog-api-key"] == FAKE_KEY
    assert sent.body["generationConfig"]["temperature"] == 0.3
    assert sent.body["generationConfig"]["topP"] == 0.8


async def test_system_messages_become_the_instruction_and_assistant_turns_the_model_role(
    backend: GeminiBackend, fake: GeminiFake
) -> None:
    request = chat(
        ChatMessage("system", "Be terse."),
        user("Hi"),
        ChatMessage("assistant", "Hello."),
        user("Again"),
    )

    await backend.generate(request)

    sent = body(fake)
    assert sent["systemInstruction"]["parts"] == [{"text": "Be terse."}]
    assert [c["role"] for c in sent["contents"]] == ["user", "model", "user"]
    assert [c["parts"][0]["text"] for c in sent["contents"]] == ["Hi", "Hello.", "Again"]


async def test_a_plain_prompt_is_one_user_turn(backend: GeminiBackend, fake: GeminiFake) -> None:
    request = GenerationRequest("req_test", SamplingParams(), prompt="Once upon")

    result = await backend.generate(request)

    assert result.text == "Echo: Once upon"
    assert body(fake)["contents"] == [{"role": "user", "parts": [{"text": "Once upon"}]}]


async def test_stop_sequences_are_sent_and_max_tokens_ends_with_length(
    backend: GeminiBackend, fake: GeminiFake
) -> None:
    stopped = await backend.generate(chat(user("one two three"), stop=("two",)))
    cut = await backend.generate(chat(user("one two three"), max_tokens=2))

    assert stopped.text == "Echo: one " and stopped.finish_reason == "stop"
    assert fake.requests[0].body["generationConfig"]["stopSequences"] == ["two"]
    assert cut.text == "Echo: one" and cut.finish_reason == "length"
    assert fake.requests[1].body["generationConfig"]["maxOutputTokens"] == 2


async def test_blocked_answer_ends_with_content_filter(backend: GeminiBackend) -> None:
    result = await backend.generate(chat(user("please BLOCKME")))

    assert result.text == "" and result.finish_reason == "content_filter"


async def test_json_mode_asks_for_json_and_a_schema_is_sent_as_json_schema(
    backend: GeminiBackend, fake: GeminiFake
) -> None:
    schema = {"type": "object", "properties": {"echo": {"type": "string"}}}

    any_json = await backend.generate(chat(user("hi"), json_schema={}))
    shaped = await backend.generate(chat(user("hi"), json_schema=schema))

    assert json.loads(any_json.text) == {"echo": "hi"}
    assert fake.requests[0].body["generationConfig"] == {
        "temperature": 1.0,
        "topP": 1.0,
        "responseMimeType": "application/json",
        "candidateCount": 1,
    }
    assert json.loads(shaped.text) == {"echo": "hi"}
    assert fake.requests[1].body["generationConfig"]["responseJsonSchema"] == schema


async def test_logprobs_are_refused_before_anything_is_sent(
    backend: GeminiBackend, fake: GeminiFake
) -> None:
    with pytest.raises(InvalidRequest, match="logprobs"):
        await backend.generate(chat(user("hi"), logprobs=True))

    assert fake.requests == []


async def test_prompt_tokens_are_counted_as_the_safe_bound(backend: GeminiBackend) -> None:
    request = chat(user("How many tokens is this?"), tools=(WEATHER,))

    assert await backend.count_prompt_tokens(request) == prompt_token_bound(request)


# -- streaming ---------------------------------------------------------------------------------


async def test_stream_yields_the_words_then_finished_with_the_provider_usage(
    backend: GeminiBackend, fake: GeminiFake
) -> None:
    request = chat(user("Hello there"))

    events = await collect(backend, request)

    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert texts == ["Echo: ", "Hello ", "there"]
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.reason == "stop"
    assert (finished.usage.prompt_tokens, finished.usage.completion_tokens) == (2, 3)
    assert (request.meter.prompt_tokens, request.meter.completion_tokens) == (2, 3)
    assert fake.requests[-1].action == "streamGenerateContent"
    assert fake.requests[-1].query == {"alt": "sse"}


async def test_meter_estimates_streamed_text_until_usage_arrives(
    backend: GeminiBackend, fake: GeminiFake
) -> None:
    request = chat(user("alpha beta gamma delta"))
    events = await backend.stream(request)

    first = await anext(events)
    estimate = request.meter.completion_tokens
    await drain(events)

    assert isinstance(first, TextDelta)
    assert estimate >= 1
    assert request.meter.prompt_tokens == 4  # the exact count replaced the bound at once
    assert request.meter.completion_tokens == 5


# -- tools -------------------------------------------------------------------------------------


async def test_required_tool_comes_back_as_a_tool_call_with_json_arguments(
    backend: GeminiBackend, fake: GeminiFake
) -> None:
    request = chat(user("Paris"), tools=(WEATHER, CLOCK), tool_choice="required")

    result = await backend.generate(request)

    assert result.finish_reason == "tool_calls"
    assert result.tool_calls is not None and len(result.tool_calls) == 1
    call = result.tool_calls[0]
    assert call.name == "get_weather" and call.id.startswith("call_")
    assert json.loads(call.arguments) == {"city": "Paris"}
    sent = body(fake)
    declared = sent["tools"][0]["functionDeclarations"]
    assert [d["name"] for d in declared] == ["get_weather", "get_time"]
    assert declared[0]["description"] == "The weather in a city."
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}


async def test_tool_choice_by_name_allows_only_that_function(
    backend: GeminiBackend, fake: GeminiFake
) -> None:
    request = chat(user("what time"), tools=(WEATHER, CLOCK), tool_choice="get_time")

    result = await backend.generate(request)

    assert result.tool_calls is not None and result.tool_calls[0].name == "get_time"
    assert body(fake)["toolConfig"]["functionCallingConfig"] == {
        "mode": "ANY",
        "allowedFunctionNames": ["get_time"],
    }


async def test_tool_choice_none_answers_in_text(backend: GeminiBackend, fake: GeminiFake) -> None:
    request = chat(user("get_weather please"), tools=(WEATHER,), tool_choice="none")

    result = await backend.generate(request)

    assert result.text == "Echo: get_weather please" and result.tool_calls is None
    assert body(fake)["toolConfig"]["functionCallingConfig"]["mode"] == "NONE"


async def test_tool_results_go_back_as_function_responses_named_after_their_call(
    backend: GeminiBackend, fake: GeminiFake
) -> None:
    call = ToolCall(id="call_abc", name="get_weather", arguments='{"city": "Paris"}')
    request = chat(
        user("Weather in Paris?"),
        ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", '{"celsius": 21}', tool_call_id="call_abc"),
        tools=(WEATHER,),
    )

    result = await backend.generate(request)

    assert result.text == 'get_weather returned {"celsius": 21}'
    assert result.finish_reason == "stop"
    model_turn, answer_turn = body(fake)["contents"][1:]
    assert model_turn == {
        "role": "model",
        "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}],
    }
    assert answer_turn == {
        "role": "user",
        "parts": [{"functionResponse": {"name": "get_weather", "response": {"celsius": 21}}}],
    }


async def test_parallel_tool_results_share_one_turn_and_text_results_are_wrapped(
    backend: GeminiBackend, fake: GeminiFake
) -> None:
    calls = (ToolCall("c1", "get_weather", "{}"), ToolCall("c2", "get_time", "{}"))
    request = chat(
        user("both"),
        ChatMessage("assistant", "Checking.", tool_calls=calls),
        ChatMessage("tool", "sunny", tool_call_id="c1"),
        ChatMessage("tool", "noon", tool_call_id="c2"),
    )

    await backend.generate(request)

    model_turn, answer_turn = body(fake)["contents"][1:]
    assert model_turn["parts"][0] == {"text": "Checking."}
    assert [p["functionResponse"] for p in answer_turn["parts"]] == [
        {"name": "get_weather", "response": {"result": "sunny"}},
        {"name": "get_time", "response": {"result": "noon"}},
    ]


async def test_a_tool_result_for_an_unknown_call_is_refused_before_sending(
    backend: GeminiBackend, fake: GeminiFake
) -> None:
    request = chat(user("hi"), ChatMessage("tool", "42", tool_call_id="call_missing"))

    with pytest.raises(InvalidRequest, match="call_missing"):
        await backend.generate(request)

    assert fake.requests == []


async def test_streamed_tool_call_arrives_whole_and_finishes_with_tool_calls(
    backend: GeminiBackend,
) -> None:
    request = chat(user("get_weather in Rome"), tools=(WEATHER,), tool_choice="auto")

    events = await collect(backend, request)

    delta, finished = events
    assert isinstance(delta, ToolCallDelta)
    assert (delta.index, delta.name) == (0, "get_weather") and delta.id
    assert json.loads(delta.arguments) == {"city": "get_weather in Rome"}
    assert isinstance(finished, Finished) and finished.reason == "tool_calls"
    assert finished.usage.completion_tokens > 0


# -- faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "code", "status"),
    [
        (Fault.error(429, retry_after_s=7), "upstream_rate_limited", 429),
        (Fault.error(500), "upstream_unavailable", 500),
        (Fault.error(503), "upstream_unavailable", 503),
        (Fault.hang(), "upstream_unreachable", None),
        (Fault.reset(after_chunks=0), "upstream_unreachable", None),
        (Fault.malformed(after_chunks=0), "upstream_malformed", None),
    ],
)
async def test_provider_failures_are_retryable_upstream_errors(
    backend: GeminiBackend, fake: GeminiFake, fault: Fault, code: str, status: int | None
) -> None:
    fake.fail_next(fault)
    started = time.monotonic()

    with pytest.raises(UpstreamError) as caught:
        await backend.generate(chat(user("hi")))

    assert caught.value.retryable is True
    assert caught.value.code == code
    assert caught.value.upstream_status == status
    assert caught.value.backend == "gemini-flash"
    assert caught.value.retry_after_s == fault.retry_after_s  # from Retry-After or RetryInfo
    assert time.monotonic() - started < TIMEOUT_S + 1
    assert len(fake.requests) == 1  # the SDK retried nothing: that is the router's job


def test_retry_delay_is_read_from_google_retry_info_without_a_header(
    backend: GeminiBackend,
) -> None:
    retry_info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}
    body = {"error": {"code": 429, "message": "quota", "details": [retry_info]}}

    error = backend._api_error(ClientError(429, body, None))

    assert error.retryable is True and error.retry_after_s == 37


async def test_a_refused_request_is_a_client_error_naming_the_backend(
    backend: GeminiBackend, fake: GeminiFake
) -> None:
    fake.fail_next(Fault.error(400))

    with pytest.raises(UpstreamRejected) as caught:
        await backend.generate(chat(user("hi")))

    assert caught.value.retryable is False
    assert caught.value.status_code == 400
    assert "gemini-flash" in caught.value.message
    assert "The fake failed as asked" in caught.value.message


async def test_a_wrong_key_is_an_auth_failure_that_never_shows_the_key(
    served: tuple[GeminiFake, str], fake: GeminiFake
) -> None:
    wrong = "wrong-key-that-must-stay-secret"
    gemini = GeminiBackend(config(served[1]), wrong)

    try:
        with pytest.raises(UpstreamError) as caught:
            await gemini.generate(chat(user("hi")))
    finally:
        await gemini.close()

    assert caught.value.code == "upstream_auth_failed" and caught.value.retryable is False
    assert wrong not in str(caught.value) and FAKE_KEY not in str(caught.value)


async def test_refusals_of_a_stream_raise_before_its_first_event(
    backend: GeminiBackend, fake: GeminiFake
) -> None:
    fake.fail_next(Fault.error(429, retry_after_s=2))

    with pytest.raises(UpstreamError) as caught:
        await backend.stream(chat(user("hi")))

    assert caught.value.retryable is True and caught.value.retry_after_s == 2


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault.reset(after_chunks=1), "upstream_unreachable"),
        (Fault.malformed(after_chunks=1), "upstream_malformed"),
        (Fault.truncated(after_chunks=1), "upstream_malformed"),
        (Fault.hang(after_chunks=1), "upstream_unreachable"),
    ],
)
async def test_a_stream_broken_midway_raises_a_retryable_error_after_its_first_words(
    backend: GeminiBackend, fake: GeminiFake, fault: Fault, code: str
) -> None:
    fake.fail_next(fault)
    events = await backend.stream(chat(user("one two three")))
    started = time.monotonic()

    first = await anext(events)
    with pytest.raises(UpstreamError) as caught:
        await drain(events)

    assert first == TextDelta("Echo: ")
    assert caught.value.retryable is True and caught.value.code == code
    assert time.monotonic() - started < TIMEOUT_S + 1


# -- cancelling --------------------------------------------------------------------------------


async def test_a_cancelled_request_stops_waiting_at_once(
    backend: GeminiBackend, fake: GeminiFake
) -> None:
    fake.fail_next(Fault.hang())
    request = chat(user("hi"))
    asyncio.get_running_loop().call_later(0.1, request.cancelled.set)
    started = time.monotonic()

    with pytest.raises(ClientClosedRequest):
        await backend.generate(request)

    assert time.monotonic() - started < 0.9


async def test_a_cancelled_stream_stops_between_slow_chunks(
    backend: GeminiBackend, fake: GeminiFake
) -> None:
    fake.chunk_delay_s = 5.0
    request = chat(user("one two three"))
    events = await backend.stream(request)
    await anext(events)
    started = time.monotonic()

    request.cancelled.set()
    with pytest.raises(ClientClosedRequest):
        await anext(events)
    await events.aclose()  # type: ignore[attr-defined]

    assert time.monotonic() - started < 0.9


# -- embeddings and building -------------------------------------------------------------------


async def test_embeddings_come_from_batch_embed_with_estimated_tokens(
    backend: GeminiBackend, fake: GeminiFake
) -> None:
    result = await backend.embed(EmbeddingRequest(["first text", "second"]))

    assert len(result.vectors) == 2 and len(result.vectors[0]) == 8
    assert result.vectors[0] != result.vectors[1]
    assert result.prompt_tokens == 3 + 2  # about 4 bytes a token: Gemini reports none
    assert fake.requests[-1].action == "batchEmbedContents"
    assert len(fake.requests[-1].body["requests"]) == 2


async def test_build_reads_the_key_from_the_environment(
    served: tuple[GeminiFake, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_GEMINI_KEY", FAKE_KEY)

    built = build(config(served[1], context_length=1_000_000))

    assert isinstance(built.backend, GeminiBackend) and built.context_length == 1_000_000
    await built.backend.close()


def test_build_without_a_key_variable_says_how_to_fix_it() -> None:
    with pytest.raises(ConfigError, match="api_key_env"):
        build(config("http://127.0.0.1:9", api_key_env=None))
