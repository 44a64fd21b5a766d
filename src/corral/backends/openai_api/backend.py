"""`OpenAIBackend`: the `Backend` protocol over an OpenAI-style API (`wire.Wire`).

Chat goes through Chat Completions (streamed or not), embeddings through `/v1/embeddings`.
Nothing here retries: retries and fallbacks are the router's job. Every failure of the
upstream becomes an `UpstreamError` in one place, `_upstream_errors`, with the provider key
scrubbed from any text the provider sent back.

Billing uses the provider's reported usage. Until a stream's usage chunk arrives, the meter
holds estimates (prompt from its byte bound, completion from the text so far), so a stream
that ends early is still charged for what the provider produced.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from corral.backends.base import (
    BackendHealth,
    EmbeddingRequest,
    EmbeddingResult,
    Finished,
    GenerationRequest,
    GenerationResult,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
)
from corral.backends.openai_api import translate, wire
from corral.backends.remote.common import classify, meter_text, prompt_token_bound
from corral.backends.remote.deadline import Deadline
from corral.errors import ClientClosedRequest, UpstreamError
from corral.observability.redact import redact
from corral.settings import RemoteModelConfig

T = TypeVar("T")
_CANCEL_POLL_S = 0.05
_MIN_SECRET_LENGTH = 8
_MAX_DETAIL_CHARS = 500


class OpenAIBackend:
    """Serves one model of one OpenAI-style server (`base_url` ends in `/v1`)."""

    def __init__(
        self,
        config: RemoteModelConfig,
        base_url: str,
        key: str,
        options: translate.Options,
    ) -> None:
        self.config = config
        self.base_url = base_url
        self._key = key
        self._options = options
        self._timeout_s = config.timeout_s
        self._wire = wire.Wire(base_url, key)

    # -- chat --------------------------------------------------------------------------------

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        arguments = translate.chat_arguments(request, self._options)
        with self._upstream_errors():
            completion = await self._answer(
                self._wire.post("/chat/completions", arguments),
                request.cancelled,
            )
            return translate.result(completion, request)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        arguments = translate.chat_arguments(request, self._options)
        deadline = asyncio.get_running_loop().time() + self._timeout_s
        with self._upstream_errors():
            async with asyncio.timeout_at(deadline):
                events = await self._wire.events(
                    "/chat/completions",
                    {**arguments, "stream": True, "stream_options": {"include_usage": True}},
                )
        return self._relay(events, request, deadline)

    async def _relay(
        self, chunks: AsyncGenerator[Any, None], request: GenerationRequest, deadline: float
    ) -> AsyncIterator[StreamEvent]:
        state = translate.StreamState()
        request.meter.prompt_tokens = translate.estimate_prompt(request)
        timer = Deadline(deadline)
        try:
            # One error boundary for the whole stream: the consumer's own exceptions never
            # enter this generator (closing it only throws GeneratorExit, which passes).
            with self._upstream_errors():
                while not request.cancelled.is_set():
                    chunk = await timer.wait(anext(chunks, None))
                    if chunk is None:
                        yield self._finished(state, request)
                        return
                    for event in state.feed(chunk):
                        _meter(event, request)
                        yield event
        finally:
            timer.cancel()
            await chunks.aclose()

    def _finished(self, state: translate.StreamState, request: GenerationRequest) -> Finished:
        if state.reason is None:
            raise self._broken("the stream ended before the answer was complete")
        with self._upstream_errors():
            return Finished(state.reason, translate.usage(state.reported, request.meter))

    async def count_prompt_tokens(self, request: GenerationRequest) -> int:
        return prompt_token_bound(request)

    # -- embeddings --------------------------------------------------------------------------

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResult:
        inputs = request.inputs
        body = {"model": self._options.model, "input": inputs, "encoding_format": "float"}
        with self._upstream_errors():
            async with asyncio.timeout(self._timeout_s):
                answer = await self._wire.post("/embeddings", body)
            vectors, prompt_tokens = translate.embeddings(answer)
        if len(vectors) != len(inputs):
            raise self._broken(f"{len(vectors)} embeddings came back for {len(inputs)} inputs")
        return EmbeddingResult(vectors=vectors, prompt_tokens=prompt_tokens)

    # -- lifecycle ---------------------------------------------------------------------------

    def health(self) -> BackendHealth:
        return BackendHealth(True, f"remote: {redact(self.base_url)}")

    async def start(self) -> None:
        """Nothing to acquire: connections open on first use."""

    async def close(self) -> None:
        await self._wire.close()

    # -- the error boundary ------------------------------------------------------------------

    async def _answer(self, call: Awaitable[T], cancelled: threading.Event) -> T:
        """Await `call` within the deadline, giving up once `cancelled` is set."""
        task = asyncio.current_task()
        assert task is not None, "called from a task"
        watch = _CancelWatch(cancelled, task)
        try:
            async with asyncio.timeout(self._timeout_s):
                return await call
        except asyncio.CancelledError:
            if watch.given_up and task.uncancel() == 0:
                raise ClientClosedRequest(
                    "The request was cancelled before the provider answered."
                ) from None
            raise
        finally:
            watch.stop()

    @contextmanager
    def _upstream_errors(self) -> Iterator[None]:
        """Translate the transport's failures, and the server's, into corral's errors."""
        name = self.config.name
        try:
            yield
        except wire.StatusError as exc:
            retry_after = translate.retry_after_s(exc.headers)
            detail = self._scrub(exc.detail())[:_MAX_DETAIL_CHARS]
            raise classify(name, exc.status, detail, retry_after) from None
        except TimeoutError:
            raise classify(name, None, f"no answer within {self._timeout_s:g} s") from None
        except OSError as exc:  # refused, reset, or closed before the answer was whole
            raise classify(name, None, self._scrub(f"{type(exc).__name__}: {exc}")) from None
        except (wire.StreamError, ValueError) as exc:  # not HTTP, not JSON, an error event
            detail = self._scrub(str(exc))[:_MAX_DETAIL_CHARS]
            raise self._broken(f"malformed answer: {detail}") from None

    def _broken(self, detail: str) -> UpstreamError:
        return UpstreamError(
            f"Backend '{self.config.name}' sent a broken answer.",
            backend=self.config.name,
            retryable=True,
            code="upstream_malformed",
            detail=detail,
        )

    def _scrub(self, text: str) -> str:
        """The provider key never leaves in a message, even when the provider echoes it."""
        if len(self._key) >= _MIN_SECRET_LENGTH:
            text = text.replace(self._key, "[redacted]")
        return text


def _meter(event: StreamEvent, request: GenerationRequest) -> None:
    if isinstance(event, TextDelta):
        meter_text(request.meter, event.text)
    elif isinstance(event, ToolCallDelta):
        meter_text(request.meter, (event.name or "") + event.arguments)


class _CancelWatch:
    """Cancels `task` once `cancelled` is set. The flag is set from other threads too, so a
    timer looks at it every `_CANCEL_POLL_S` (cheaper than a second task to race against).

    A class rather than a closure that re-arms itself: such a closure refers to itself, and the
    cycle would leave each request's task for the garbage collector to find."""

    __slots__ = ("_cancelled", "_loop", "_task", "_timer", "given_up")

    def __init__(self, cancelled: threading.Event, task: asyncio.Task[Any]) -> None:
        self._cancelled = cancelled
        self._task = task
        self._loop = task.get_loop()
        self.given_up = False
        self._timer = self._loop.call_later(_CANCEL_POLL_S, self._look)

    def _look(self) -> None:
        if self._cancelled.is_set():
            self.given_up = True
            self._task.cancel()
        else:
            self._timer = self._loop.call_later(_CANCEL_POLL_S, self._look)

    def stop(self) -> None:
        self._timer.cancel()  # a cancelled handle drops its callback, so nothing points back
