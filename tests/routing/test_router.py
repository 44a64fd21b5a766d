"""Fallback across a route's models: retryable failures move on, others come back at once."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from corral.backends.base import (
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    SamplingParams,
    StreamEvent,
    TextDelta,
)
from corral.catalog import ModelEntry
from corral.errors import BackendFailed, Overloaded, UpstreamError, UpstreamRejected
from corral.routing.replicas import ReplicaSet
from corral.routing.router import Router
from corral.settings import RoutingConfig
from tests.fakes import EchoBackend
from tests.support import echo_entry

FAST = RoutingConfig(
    attempts_per_backend=2, backoff_initial_s=0.001, backoff_max_s=0.01, total_timeout_s=5
)


class Flaky(EchoBackend):
    """Fails its first `failures` calls with `error`, then answers like EchoBackend."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def _fail(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        self._fail()
        return await super().generate(request)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        self._fail()
        return await super().stream(request)


def unavailable(status: int = 503, retry_after: float | None = None) -> UpstreamError:
    return UpstreamError(
        "down", backend="x", retryable=True, retry_after_s=retry_after, upstream_status=status
    )


def entry(name: str, backend: EchoBackend) -> ModelEntry:
    return echo_entry(name, backend=backend)


def hello() -> GenerationRequest:
    return GenerationRequest("req_1", SamplingParams(), messages=(ChatMessage("user", "hi you"),))


async def test_a_retry_on_the_same_model_succeeds() -> None:
    flaky = Flaky(1, unavailable())

    answered, result = await Router(FAST).generate([entry("a", flaky)], hello())

    assert answered.id == "a" and result.text == "hi you "
    assert flaky.calls == 2


async def test_falls_back_to_the_next_model_when_one_keeps_failing() -> None:
    down, up = Flaky(99, unavailable()), Flaky(0, unavailable())

    answered, _ = await Router(FAST).generate([entry("a", down), entry("b", up)], hello())

    assert answered.id == "b"
    assert down.calls == FAST.attempts_per_backend


async def test_a_refusal_is_not_retried_elsewhere() -> None:
    rejected = UpstreamRejected("bad", backend="a", retryable=False, upstream_status=400)
    first, second = Flaky(99, rejected), Flaky(0, unavailable())

    with pytest.raises(UpstreamRejected):
        await Router(FAST).generate([entry("a", first), entry("b", second)], hello())

    assert first.calls == 1 and second.calls == 0


async def test_an_open_circuit_skips_the_model() -> None:
    config = FAST.model_copy(update={"breaker_failures": 2, "breaker_reset_s": 60})
    router = Router(config)
    down, up = Flaky(99, unavailable()), Flaky(0, unavailable())
    await router.generate([entry("a", down), entry("b", up)], hello())  # opens a's circuit
    calls = down.calls

    answered, _ = await router.generate([entry("a", down), entry("b", up)], hello())

    assert answered.id == "b"
    assert down.calls == calls  # not even tried


async def test_when_every_model_fails_the_error_names_them() -> None:
    router = Router(FAST)

    with pytest.raises(UpstreamError) as caught:
        await router.generate(
            [entry("a", Flaky(99, unavailable())), entry("b", Flaky(99, unavailable()))], hello()
        )

    assert caught.value.code == "all_backends_failed"
    assert "a, b" in caught.value.message


async def test_a_stream_falls_back_only_before_its_first_event() -> None:
    down, up = Flaky(99, unavailable()), Flaky(0, unavailable())

    answered, events = await Router(FAST).stream([entry("a", down), entry("b", up)], hello())

    texts = [e.text async for e in events if isinstance(e, TextDelta)]
    assert answered.id == "b" and texts == ["hi ", "you "]


async def test_replicas_share_requests_by_weight_and_cover_for_each_other() -> None:
    heavy, light = Flaky(0, unavailable()), Flaky(0, unavailable())
    replicas = ReplicaSet("m", [("a", heavy, 3), ("b", light, 1)], FAST, random.Random(7))

    for _ in range(400):
        await replicas.generate(hello())

    assert 250 < heavy.calls < 350  # about three quarters
    heavy.failures, heavy.calls = 10**6, 0  # the heavy replica goes down
    results = [await replicas.generate(hello()) for _ in range(20)]
    assert all(r.text == "hi you " for r in results)


def busy() -> Overloaded:
    return Overloaded("Model 'a' is busy: every instance is generating and its queue is full.")


@pytest.mark.parametrize(
    "error",
    [busy(), unavailable(429), UpstreamRejected("bad", backend="a", retryable=False)],
    ids=["full local queue", "upstream 429", "upstream 400"],
)
async def test_load_and_bad_requests_never_open_the_circuit(error: Exception) -> None:
    router = Router(FAST.model_copy(update={"breaker_failures": 2, "breaker_reset_s": 60}))
    crowded = Flaky(99, error)
    for _ in range(10):
        with pytest.raises(type(error)):
            await router.generate([entry("a", crowded)], hello())

    crowded.failures = 0  # the queue drains: the next request is served
    answered, result = await router.generate([entry("a", crowded)], hello())

    assert answered.id == "a" and result.text == "hi you "
    assert router.breaker("a").state == "closed"


async def test_cancelled_requests_never_open_the_circuit() -> None:
    class Slow(EchoBackend):
        async def generate(self, request: GenerationRequest) -> GenerationResult:
            await asyncio.sleep(60)
            raise AssertionError("cancelled before this")

    router = Router(FAST.model_copy(update={"breaker_failures": 1, "breaker_reset_s": 60}))
    calls = [asyncio.create_task(router.generate([entry("a", Slow())], hello())) for _ in range(8)]
    await asyncio.sleep(0.01)
    for call in calls:
        call.cancel()
    await asyncio.gather(*calls, return_exceptions=True)

    assert router.breaker("a").state == "closed"


async def test_a_crashed_local_instance_opens_the_circuit() -> None:
    router = Router(FAST.model_copy(update={"breaker_failures": 2, "breaker_reset_s": 60}))
    crashing = Flaky(99, BackendFailed("Local model 'a' failed: llama_decode returned -1"))
    for _ in range(2):
        with pytest.raises(BackendFailed):
            await router.generate([entry("a", crashing)], hello())

    assert router.breaker("a").state == "open"
