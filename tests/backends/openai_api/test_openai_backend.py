"""`OpenAIBackend` against the fake OpenAI API: chat, streams, tools, usage, faults, cancelling."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

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
from corral.backends.openai_api import OpenAIBackend, build, build_for_url
from corral.backends.remote.common import prompt_token_bound
from corral.errors import (
    ClientClosedRequest,
    ConfigError,
    UpstreamError,
    UpstreamFailure,
    UpstreamRejected,
)
from corral.settings import RemoteModelConfig
from tests.backends.remote.kit import collect
from tests.providers.openai_fake import KEY, FaultKind, OpenAIFake
from tests.support import free_port

KEY_ENV = "FAKE_OPENAI_KEY"
WEATHER = ToolSpec("get_weather", "The weather in a city.", {"type": "object", "properties": {}})


@pytest.fixture(scope="module")
def running_fake() -> Iterator[tuple[OpenAIFake, str]]:
    fake = OpenAIFake()
    with fake.running() as url:
        yield fake, url


@pytest.fixture
def fake(running_fake: tuple[OpenAIFake, str]) -> OpenAIFake:
    running_fake[0].reset()
    return running_fake[0]


@pytest.fixture
async def backend(
    running_fake: tuple[OpenAIFake, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[OpenAIBackend]:
    monkeypatch.setenv(KEY_ENV, KEY)
    async with _backend(f"{running_fake[1]}/v1") as built:
        yield built


class _backend:
    """A backend for `gpt-mini` at `base_url`, closed at the end of the block."""

    def __init__(self, base_url: str, **fields: Any) -> None:
        values: dict[str, Any] = {
            "name": "gpt-mini",
            "backend": "openai",
            "upstream_model": "gpt-4o-mini",
            "api_key_env": KEY_ENV,
            "timeout_s": 2.0,
        }
        values.update(fields)
        built = build_for_url(RemoteModelConfig(**values), base_url).backend
        assert isinstance(built, OpenAIBackend)
        self.backend = built

    async def __aenter__(self) -> OpenAIBackend:
        return self.backend

    async def __aexit__(self, *exc: object) -> None:
        await self.backend.close()


def chat(text: str, **params: Any) -> GenerationRequest:
    return GenerationRequest(
        "req_test", SamplingParams(**params), messages=(ChatMessage("user", text),)
    )


# -- chat ------------------------------------------------------------------------------------


async def test_answer_carries_text_and_the_providers_usage(
    backend: OpenAIBackend, fake: OpenAIFake
) -> None:
    request = chat("the quick brown fox")

    result = await backend.generate(request)

    assert result.text == "the quick brown fox"
    assert result.finish_reason == "stop"
    assert fake.received[-1].usage == {
        "prompt_tokens": 4,
        "completion_tokens": 4,
        "total_tokens": 8,
    }
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (4, 4)
    assert (request.meter.prompt_tokens, request.meter.completion_tokens) == (4, 4)
    assert fake.received[-1].key == KEY


async def test_every_sampling_parameter_reaches_the_provider(
    backend: OpenAIBackend, fake: OpenAIFake
) -> None:
    request = chat(
        "one two three four",
        max_tokens=2,
        temperature=0.5,
        top_p=0.9,
        stop=("four",),
        seed=7,
        presence_penalty=0.1,
        frequency_penalty=0.2,
        logprobs=True,
        top_logprobs=2,
    )

    result = await backend.generate(request)

    sent = fake.bodies()[-1]
    assert sent["model"] == "gpt-4o-mini"
    assert sent["max_completion_tokens"] == 2 and sent["stop"] == ["four"]
    assert (sent["temperature"], sent["top_p"], sent["seed"]) == (0.5, 0.9, 7)
    assert (sent["presence_penalty"], sent["frequency_penalty"]) == (0.1, 0.2)
    assert sent["logprobs"] is True and sent["top_logprobs"] == 2
    assert result.finish_reason == "length" and result.text == "one two"
    assert result.logprobs is not None and len(result.logprobs[0].top_logprobs) == 2


async def test_parameters_at_their_defaults_are_not_sent(
    backend: OpenAIBackend, fake: OpenAIFake
) -> None:
    await backend.generate(chat("hello"))

    assert set(fake.bodies()[-1]) == {"model", "messages"}


async def test_a_prompt_goes_as_one_user_message(backend: OpenAIBackend, fake: OpenAIFake) -> None:
    request = GenerationRequest("req_p", SamplingParams(), prompt="complete this")

    result = await backend.generate(request)

    assert fake.bodies()[-1]["messages"] == [{"role": "user", "content": "complete this"}]
    assert result.text == "complete this"


async def test_stream_yields_words_then_finished_with_the_providers_usage(
    backend: OpenAIBackend, fake: OpenAIFake
) -> None:
    request = chat("alpha beta gamma")

    events = await collect(backend, request)

    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "alpha beta gamma"
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.reason == "stop"
    assert (finished.usage.prompt_tokens, finished.usage.completion_tokens) == (3, 3)
    assert request.meter.completion_tokens == 3
    assert fake.bodies()[-1]["stream_options"] == {"include_usage": True}


async def test_json_mode_asks_for_a_json_object(backend: OpenAIBackend, fake: OpenAIFake) -> None:
    result = await backend.generate(chat("answer in json please", json_schema={}))

    assert fake.bodies()[-1]["response_format"] == {"type": "json_object"}
    assert json.loads(result.text) == {"echo": "answer in json please"}


async def test_a_schema_is_sent_strict(backend: OpenAIBackend, fake: OpenAIFake) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}

    result = await backend.generate(chat("Paris", json_schema=schema))

    sent = fake.bodies()[-1]["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["strict"] is True and sent["json_schema"]["schema"] == schema
    assert json.loads(result.text) == {"city": "Paris"}


async def test_json_mode_without_the_word_json_is_the_clients_to_fix(
    backend: OpenAIBackend,
) -> None:
    with pytest.raises(UpstreamRejected) as caught:
        await backend.generate(chat("hello", json_schema={}))

    assert "json" in caught.value.message and caught.value.status_code == 400


# -- tools -----------------------------------------------------------------------------------


async def test_a_tool_call_comes_back_with_its_arguments(
    backend: OpenAIBackend, fake: OpenAIFake
) -> None:
    request = chat("call get_weather for Paris", tools=(WEATHER,), tool_choice="auto")

    result = await backend.generate(request)

    assert result.finish_reason == "tool_calls"
    assert result.tool_calls is not None and result.tool_calls[0].name == "get_weather"
    assert json.loads(result.tool_calls[0].arguments) == {"text": "call get_weather for Paris"}
    sent = fake.bodies()[-1]
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["tool_choice"] == "auto"


async def test_a_named_tool_choice_forces_that_function(
    backend: OpenAIBackend, fake: OpenAIFake
) -> None:
    result = await backend.generate(chat("hi", tools=(WEATHER,), tool_choice="get_weather"))

    assert fake.bodies()[-1]["tool_choice"] == {
        "type": "function",
        "function": {"name": "get_weather"},
    }
    assert result.tool_calls is not None


async def test_a_streamed_tool_call_arrives_as_deltas(backend: OpenAIBackend) -> None:
    request = chat("please call get_weather", tools=(WEATHER,))

    events = await collect(backend, request)

    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert deltas[0].id is not None and deltas[0].name == "get_weather"
    assert len(deltas) > 2
    arguments = json.loads("".join(d.arguments for d in deltas))
    assert arguments == {"text": "please call get_weather"}
    assert isinstance(events[-1], Finished) and events[-1].reason == "tool_calls"


async def test_tool_calls_and_results_in_the_history_reach_the_provider(
    backend: OpenAIBackend, fake: OpenAIFake
) -> None:
    call = ToolCall("call_1", "get_weather", '{"city": "Paris"}')
    history = (
        ChatMessage("user", "weather?"),
        ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", "sunny", tool_call_id="call_1"),
    )

    result = await backend.generate(
        GenerationRequest("req_h", SamplingParams(tools=(WEATHER,)), messages=history)
    )

    sent = fake.bodies()[-1]["messages"]
    assert sent[1]["content"] is None and sent[1]["tool_calls"][0]["id"] == "call_1"
    assert sent[2] == {"role": "tool", "content": "sunny", "tool_call_id": "call_1"}
    assert result.text == "Tool said: sunny"


# -- embeddings, tokens, health --------------------------------------------------------------


async def test_embeddings_come_in_input_order_with_usage(
    running_fake: tuple[OpenAIFake, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    url = f"{running_fake[1]}/v1"
    async with _backend(url, upstream_model="text-embedding-3-small") as backend:
        result = await backend.embed(EmbeddingRequest(["one two", "three"]))

    assert len(result.vectors) == 2 and result.vectors[0] != result.vectors[1]
    assert result.prompt_tokens == 3


async def test_prompt_tokens_are_the_shared_bound_and_health_needs_no_call(
    backend: OpenAIBackend,
) -> None:
    request = chat("hello there")

    assert await backend.count_prompt_tokens(request) == prompt_token_bound(request)
    assert backend.health().ready


# -- faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "code", "retryable"),
    [
        ("rate_limit", "upstream_rate_limited", True),
        ("server_error", "upstream_unavailable", True),
        ("unavailable", "upstream_unavailable", True),
        ("hang", "upstream_unreachable", True),
        ("reset", "upstream_unreachable", True),
        ("malformed", "upstream_malformed", True),
        ("bad_request", "upstream_rejected", False),
    ],
)
async def test_each_fault_becomes_the_right_error(
    backend: OpenAIBackend, fake: OpenAIFake, kind: FaultKind, code: str, retryable: bool
) -> None:
    fake.fail_next(kind, hang_s=5)
    started = time.monotonic()

    with pytest.raises(UpstreamFailure) as caught:
        await backend.generate(chat("hello world"))

    assert caught.value.code == code and caught.value.retryable is retryable
    assert caught.value.backend == "gpt-mini"
    assert time.monotonic() - started < 4


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("rate_limit", "upstream_rate_limited"),
        ("unavailable", "upstream_unavailable"),
        ("hang", "upstream_unreachable"),
    ],
)
async def test_a_stream_that_fails_before_it_starts_raises_from_stream(
    backend: OpenAIBackend, fake: OpenAIFake, kind: FaultKind, code: str
) -> None:
    fake.fail_next(kind, hang_s=5)

    with pytest.raises(UpstreamError) as caught:
        await backend.stream(chat("hello world"))

    assert caught.value.code == code and caught.value.retryable


@pytest.mark.parametrize("kind", ["reset", "malformed"])
async def test_a_stream_broken_midway_raises_a_retryable_error_from_the_iterator(
    backend: OpenAIBackend, fake: OpenAIFake, kind: FaultKind
) -> None:
    fake.fail_next(kind, after_chunks=2)
    events = await backend.stream(chat("one two three four five six"))
    seen: list[StreamEvent] = []

    with pytest.raises(UpstreamError) as caught:
        async for event in events:
            seen.append(event)

    assert caught.value.retryable
    assert seen and not any(isinstance(e, Finished) for e in seen)


async def test_a_stream_that_stalls_midway_ends_at_its_deadline(
    backend: OpenAIBackend, fake: OpenAIFake
) -> None:
    # The backend's timeout_s is 2 s; the fake falls silent for 5 s after two chunks.
    fake.fail_next("stall", after_chunks=2, hang_s=5)
    started = time.monotonic()
    events = await backend.stream(chat("one two three four five six"))
    seen: list[StreamEvent] = []

    with pytest.raises(UpstreamError) as caught:
        async for event in events:
            seen.append(event)

    assert caught.value.retryable and "no answer within 2 s" in (caught.value.detail or "")
    assert seen and not any(isinstance(e, Finished) for e in seen)
    assert time.monotonic() - started < 4


async def test_retry_after_is_passed_on(backend: OpenAIBackend, fake: OpenAIFake) -> None:
    fake.fail_next("rate_limit", retry_after="7")

    with pytest.raises(UpstreamError) as caught:
        await backend.generate(chat("hi"))

    assert caught.value.retry_after_s == 7 and caught.value.upstream_status == 429


async def test_a_wrong_key_is_an_auth_failure_that_hides_the_key(
    running_fake: tuple[OpenAIFake, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-wrong-key-0000000000")
    async with _backend(f"{running_fake[1]}/v1") as backend:
        with pytest.raises(UpstreamError) as caught:
            await backend.generate(chat("hi"))

    assert caught.value.code == "upstream_auth_failed" and not caught.value.retryable
    assert "sk-wrong" not in caught.value.message


async def test_a_provider_echoing_the_key_never_gets_it_into_the_error(
    backend: OpenAIBackend, fake: OpenAIFake
) -> None:
    fake.fail_next("bad_request", message=f"Bad request made with {KEY}, sorry")

    with pytest.raises(UpstreamRejected) as caught:
        await backend.generate(chat("hi"))

    assert KEY not in caught.value.message and "[redacted]" in caught.value.message
    assert KEY not in str(caught.value)


async def test_an_unknown_upstream_model_is_rejected(
    running_fake: tuple[OpenAIFake, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    async with _backend(f"{running_fake[1]}/v1", upstream_model="gpt-nope") as backend:
        with pytest.raises(UpstreamRejected) as caught:
            await backend.generate(chat("hi"))

    assert caught.value.upstream_status == 404


async def test_a_server_nobody_runs_is_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    async with _backend(f"http://127.0.0.1:{free_port()}/v1") as backend:
        with pytest.raises(UpstreamError) as caught:
            await backend.generate(chat("hi"))

    assert caught.value.code == "upstream_unreachable" and caught.value.retryable


# -- cancelling ------------------------------------------------------------------------------


async def test_a_cancelled_stream_stops_at_the_next_chunk(backend: OpenAIBackend) -> None:
    request = chat(" ".join(f"w{i}" for i in range(200)))
    events = await backend.stream(request)
    first = await anext(aiter(events))

    request.cancelled.set()
    rest = [event async for event in events]

    assert isinstance(first, TextDelta)
    assert rest == []
    assert request.meter.prompt_tokens > 0


async def test_a_cancel_from_another_thread_ends_a_stalled_stream_at_once(
    backend: OpenAIBackend, fake: OpenAIFake
) -> None:
    fake.fail_next("stall", after_chunks=2, hang_s=5)
    request = chat("one two three four five six")
    events = await backend.stream(request)
    first = await anext(aiter(events))
    threading.Timer(0.1, request.cancelled.set).start()  # as the llama.cpp thread could
    started = time.monotonic()

    rest = [event async for event in events]

    assert isinstance(first, TextDelta)
    assert not any(isinstance(event, Finished) for event in rest)
    assert time.monotonic() - started < 1


async def test_a_cancelled_request_stops_waiting_for_the_answer(
    backend: OpenAIBackend, fake: OpenAIFake
) -> None:
    fake.fail_next("hang", hang_s=5)
    request = chat("hi")
    asyncio.get_running_loop().call_later(0.1, request.cancelled.set)
    started = time.monotonic()

    with pytest.raises(ClientClosedRequest):
        await backend.generate(request)

    assert time.monotonic() - started < 1


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_finished_request_is_freed_at_once_not_left_to_the_garbage_collector(
    backend: OpenAIBackend, streamed: bool
) -> None:
    # Anything in a reference cycle with a request's task keeps the task, its coroutine and
    # its context alive until a collection finds them: under load, collector time per request.
    async def one_request() -> None:
        request = chat("the quick brown fox")
        await (collect(backend, request) if streamed else backend.generate(request))

    await one_request()  # the first opens the connection and the session
    gc.disable()
    try:
        task = asyncio.create_task(one_request())
        await task
        finished = weakref.ref(task)
        del task
        await asyncio.sleep(0)  # the loop lets go of the callback that woke this test

        assert finished() is None
    finally:
        gc.enable()


# -- building --------------------------------------------------------------------------------


async def test_a_compatible_server_without_a_key_gets_a_placeholder(
    running_fake: tuple[OpenAIFake, str],
) -> None:
    fake, url = running_fake
    fake.reset()
    fake.keys = None
    try:
        config = RemoteModelConfig(
            name="vllm",
            backend="openai-compatible",
            upstream_model="gpt-4o-mini",
            replicas=[{"base_url": f"{url}/v1"}, {"base_url": "http://127.0.0.1:1/v1"}],
        )
        backend = build(config).backend
        result = await backend.generate(chat("hi", max_tokens=3))
        await backend.close()
    finally:
        fake.keys = (KEY,)

    assert result.text == "hi"
    assert fake.received[-1].key == "EMPTY"
    assert fake.bodies()[-1]["max_tokens"] == 3


def test_openai_needs_a_key_variable() -> None:
    config = RemoteModelConfig(name="gpt", backend="openai", upstream_model="gpt-4o-mini")

    with pytest.raises(ConfigError, match="api_key_env"):
        build(config)


async def test_a_failure_tells_the_tenant_what_failed_and_only_the_operator_where(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    port = free_port()  # nothing listens there
    async with _backend(f"http://corral:hunter2@127.0.0.1:{port}/v1") as backend:
        with pytest.raises(UpstreamError) as caught:
            await backend.generate(chat("hello"))
        shown = backend.health().detail

    assert caught.value.message == "Backend 'gpt-mini' could not be reached."
    assert caught.value.detail is not None and "hunter2" not in caught.value.detail
    assert shown == f"remote: http://***@127.0.0.1:{port}/v1"
