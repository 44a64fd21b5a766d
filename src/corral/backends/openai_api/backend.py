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
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

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
from corral.backends.remote.common import (
    classify,
    meter_text,
    prompt_token_bound,
    prompt_token_estimate,
    redact_key,
    retry_after_s,
)
from corral.cancellation import Within, await_within
from corral.errors import ClientClosedRequest, UpstreamError
from corral.observability.redact import redact
from corral.settings import RemoteModelConfig

_MAX_DETAIL_CHARS = 500
_CANCELLED = "The request was cancelled before the provider answered."


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
            completion = await await_within(
                self._wire.post("/chat/completions", arguments),
                request.cancelled,
                self._deadline(),
                message=_CANCELLED,
            )
            return translate.result(completion, request)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        arguments = translate.chat_arguments(request, self._options)
        deadline = self._deadline()
        with self._upstream_errors():
            events = await await_within(
                self._wire.events(
                    "/chat/completions",
                    {**arguments, "stream": True, "stream_options": {"include_usage": True}},
                ),
                request.cancelled,
                deadline,
                message=_CANCELLED,
            )
        return self._relay(events, request, deadline)

    async def _relay(
        self, chunks: AsyncGenerator[Any, None], request: GenerationRequest, deadline: float
    ) -> AsyncIterator[StreamEvent]:
        state = translate.StreamState()
        request.meter.prompt_tokens = prompt_token_estimate(request)
        within = Within(request.cancelled, deadline, message=_CANCELLED)
        try:
            # One error boundary for the whole stream: the consumer's own exceptions never
            # enter this generator (closing it only throws GeneratorExit, which passes).
            with self._upstream_errors():
                while True:
                    chunk = await within.wait(anext(chunks, None))
                    if chunk is None:
                        yield self._finished(state, request)
                        return
                    for event in state.feed(chunk):
                        _meter(event, request)
                        yield event
        except ClientClosedRequest:
            return  # whoever cancelled has stopped reading: the stream just ends
        finally:
            within.close()
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

    def _deadline(self) -> float:
        return asyncio.get_running_loop().time() + self._timeout_s

    @contextmanager
    def _upstream_errors(self) -> Iterator[None]:
        """Translate the transport's failures, and the server's, into corral's errors."""
        name = self.config.name
        try:
            yield
        except wire.StatusError as exc:
            detail = self._scrub(exc.detail())[:_MAX_DETAIL_CHARS]
            raise classify(name, exc.status, detail, retry_after_s(exc.headers)) from None
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
        return redact_key(text, self._key)


def _meter(event: StreamEvent, request: GenerationRequest) -> None:
    if isinstance(event, TextDelta):
        meter_text(request.meter, event.text)
    elif isinstance(event, ToolCallDelta):
        meter_text(request.meter, (event.name or "") + event.arguments)
