"""Run a request on the first of several candidate models that answers.

A candidate is tried up to `attempts_per_backend` times while it fails with a retryable error
(429, 5xx, timeouts, broken connections, a full local queue), waiting with jittered
exponential backoff that honours Retry-After; then the next candidate. A candidate whose
circuit is open is skipped; only the backend's own failures (upstream 5xx, broken
connections, upstream timeouts, a crashed local instance) count towards opening it, never
what callers do (cancelling, a full queue, a 4xx). Everything happens within one total
deadline. A stream is switched to another candidate only before its first event: once content
has reached the client, an error ends the stream instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

from corral.backends.base import (
    EmbeddingRequest,
    EmbeddingResult,
    GenerationRequest,
    GenerationResult,
    StreamEvent,
)
from corral.catalog.catalog import ModelEntry
from corral.errors import (
    AllCandidatesFailed,
    BackendFailed,
    BackendTimeout,
    CorralError,
    Overloaded,
    UpstreamError,
    UpstreamFailure,
)
from corral.routing.backoff import backoff_s
from corral.routing.breaker import CircuitBreaker
from corral.settings import RoutingConfig

T = TypeVar("T")
Attempt = Callable[[ModelEntry], Awaitable[T]]


class Router:
    def __init__(self, config: RoutingConfig) -> None:
        self._config = config
        self._breakers: dict[str, CircuitBreaker] = {}

    def breaker(self, model_id: str) -> CircuitBreaker:
        breaker = self._breakers.get(model_id)
        if breaker is None:
            breaker = CircuitBreaker(self._config.breaker_failures, self._config.breaker_reset_s)
            self._breakers[model_id] = breaker
        return breaker

    async def generate(
        self, candidates: Sequence[ModelEntry], request: GenerationRequest
    ) -> tuple[ModelEntry, GenerationResult]:
        async def attempt(entry: ModelEntry) -> GenerationResult:
            _fresh_meter(request)
            return await entry.backend.generate(request)

        return await self._first_that_answers(candidates, attempt)

    async def embed(
        self, candidates: Sequence[ModelEntry], request: EmbeddingRequest
    ) -> tuple[ModelEntry, EmbeddingResult]:
        async def attempt(entry: ModelEntry) -> EmbeddingResult:
            _fresh_meter(request)
            return await entry.backend.embed(request)

        return await self._first_that_answers(candidates, attempt)

    async def stream(
        self, candidates: Sequence[ModelEntry], request: GenerationRequest
    ) -> tuple[ModelEntry, AsyncIterator[StreamEvent]]:
        async def attempt(entry: ModelEntry) -> AsyncIterator[StreamEvent]:
            _fresh_meter(request)
            events = await entry.backend.stream(request)
            # The first event decides: a failure before it may still go elsewhere.
            try:
                first = await anext(aiter(events))
            except StopAsyncIteration:
                return events
            return _prepend(first, events)

        return await self._first_that_answers(candidates, attempt)

    async def _first_that_answers(
        self, candidates: Sequence[ModelEntry], attempt: Attempt[T]
    ) -> tuple[ModelEntry, T]:
        deadline = time.monotonic() + self._config.total_timeout_s
        last: CorralError | None = None
        for entry in candidates:
            breaker = self.breaker(entry.id)
            if not breaker.allow():
                last = last or _circuit_open(entry)
                continue
            try:
                return entry, await self._with_retries(entry, breaker, attempt, deadline)
            except (UpstreamFailure, Overloaded) as exc:
                if not _retryable(exc):
                    raise
                last = exc
            if time.monotonic() >= deadline:
                break
        raise _exhausted(candidates, last)

    async def _with_retries(
        self, entry: ModelEntry, breaker: CircuitBreaker, attempt: Attempt[T], deadline: float
    ) -> T:
        tries = self._config.attempts_per_backend
        for number in range(1, tries + 1):
            # Local models have no network to wait on, and a long prompt on a slow CPU may
            # rightly take minutes: the deadline guards remote backends only.
            remaining = None if entry.kind == "llama-cpp" else deadline - time.monotonic()
            try:
                async with asyncio.timeout(remaining):
                    result = await attempt(entry)
            except TimeoutError:
                breaker.failure()
                raise BackendTimeout(
                    f"No answer from '{entry.id}' within the request's deadline."
                ) from None
            except (UpstreamFailure, Overloaded) as exc:
                if not _retryable(exc):
                    breaker.success()  # it answered; the request was the problem
                    raise
                _count(breaker, exc)
                wait = self._wait(number, exc)
                late = remaining is not None and wait >= deadline - time.monotonic()
                if number == tries or not breaker.allow() or late:
                    raise
                await asyncio.sleep(wait)
                continue
            except BackendFailed:
                breaker.failure()  # a local instance crashed
                raise
            except BaseException:
                breaker.release()
                raise
            breaker.success()
            return result
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _wait(self, number: int, exc: CorralError) -> float:
        retry_after = exc.retry_after_s if isinstance(exc, UpstreamFailure) else None
        if isinstance(exc, Overloaded):
            retry_after = float(exc.retry_after_s)
        return backoff_s(
            number, self._config.backoff_initial_s, self._config.backoff_max_s, retry_after
        )


def _count(breaker: CircuitBreaker, exc: UpstreamFailure | Overloaded) -> None:
    """Only the backend's own failures open its circuit: upstream 5xx, broken connections.
    A full local queue, or an upstream 429, is load that callers made; counting it would let
    one tenant's burst (or its abandoned requests) shut a model for every tenant."""
    if isinstance(exc, Overloaded) or exc.upstream_status == 429:
        breaker.release()
    else:
        breaker.failure()


def _retryable(exc: CorralError) -> bool:
    return isinstance(exc, Overloaded) or (isinstance(exc, UpstreamFailure) and exc.retryable)


def _fresh_meter(request: GenerationRequest | EmbeddingRequest) -> None:
    request.meter.prompt_tokens = 0
    request.meter.completion_tokens = 0


def _circuit_open(entry: ModelEntry) -> UpstreamError:
    return UpstreamError(
        f"'{entry.id}' failed repeatedly and is resting; it is tried again shortly.",
        backend=entry.id,
        retryable=True,
        code="circuit_open",
    )


def _exhausted(candidates: Sequence[ModelEntry], last: CorralError | None) -> CorralError:
    if len(candidates) == 1 and last is not None:
        return last
    names = ", ".join(entry.id for entry in candidates)
    detail = f" Last error: {last.message}" if last is not None else ""
    return AllCandidatesFailed(
        f"None of the models behind this name answered ({names}).{detail}",
        backend=candidates[-1].id if candidates else "",
        retryable=True,
        code="all_backends_failed",
        detail=last.detail if last is not None else None,
    )


async def _prepend(
    first: StreamEvent, rest: AsyncIterator[StreamEvent]
) -> AsyncIterator[StreamEvent]:
    yield first
    async for event in rest:
        yield event
