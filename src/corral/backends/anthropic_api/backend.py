"""`AnthropicBackend`: the `Backend` protocol over Anthropic's Messages API (official SDK).

One attempt per call (`max_retries=0`): retrying, and going elsewhere, is the router's job.
Every attempt has one deadline, `timeout_s`, from sending the request to the last stream event.
The SDK's and the transport's exceptions are mapped to corral's `UpstreamError`s at one
boundary, `_upstream_errors`; messages never carry the provider key.

While it waits for the provider, a call also watches `request.cancelled`: once it is set, the
upstream request is abandoned (its connection closed) at once; `generate` then raises
`ClientClosedRequest` and a stream simply ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import anthropic
import httpx2
from anthropic import AsyncStream
from anthropic.types import Message, RawMessageStreamEvent

from corral.backends.anthropic_api.streaming import MalformedStream, StreamTranslator
from corral.backends.anthropic_api.translate import JsonEmulation, from_message, to_anthropic
from corral.backends.base import (
    BackendHealth,
    EmbeddingRequest,
    EmbeddingResult,
    GenerationRequest,
    GenerationResult,
    StreamEvent,
)
from corral.backends.remote.common import (
    classify,
    prompt_token_bound,
    redact_key,
    retry_after_s,
)
from corral.cancellation import Within, await_within
from corral.errors import ClientClosedRequest, InvalidRequest, UpstreamError, UpstreamFailure
from corral.settings import RemoteModelConfig

_CANCELLED = "The client went away; the upstream call stopped."
# An `error` event inside a stream arrives after HTTP 200; its type says what it would have been.
_ERROR_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


class AnthropicBackend:
    """Serves one `[[models]]` entry with `backend = "anthropic"`."""

    def __init__(self, config: RemoteModelConfig, key: str) -> None:
        self.config = config
        self.name = config.name
        self.context_length = config.context_length
        self._key = key
        self._client = anthropic.AsyncAnthropic(
            api_key=key, base_url=config.base_url, max_retries=0, timeout=config.timeout_s
        )

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Nothing to load: the connection pool opens on the first request."""

    async def close(self) -> None:
        await self._client.close()

    def health(self) -> BackendHealth:
        return BackendHealth(True, f"Anthropic Messages API ({self.config.upstream_model})")

    # -- requests ------------------------------------------------------------------------------

    async def count_prompt_tokens(self, request: GenerationRequest) -> int:
        return prompt_token_bound(request)

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResult:
        raise InvalidRequest(
            f"The model '{self.name}' is served by Anthropic, which has no embeddings; "
            "use an embedding model for /v1/embeddings.",
            param="model",
        )

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        translated = to_anthropic(request, self.config.upstream_model, self.context_length)
        with self._upstream_errors():
            message: Message = await await_within(
                self._client.messages.create(**translated.body, stream=False),
                request.cancelled,
                self._deadline(),
                message=_CANCELLED,
            )
        result = from_message(message, translated.json)
        request.meter.prompt_tokens = result.usage.prompt_tokens
        request.meter.completion_tokens = result.usage.completion_tokens
        return result

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        """Send the request and wait for the provider's HTTP answer, then return its events."""
        translated = to_anthropic(request, self.config.upstream_model, self.context_length)
        deadline = self._deadline()
        with self._upstream_errors():
            upstream: AsyncStream[RawMessageStreamEvent] = await await_within(
                self._client.messages.create(**translated.body, stream=True),
                request.cancelled,
                deadline,
                message=_CANCELLED,
            )
        return self._events(upstream, request, translated.json, deadline)

    async def _events(
        self,
        upstream: AsyncStream[RawMessageStreamEvent],
        request: GenerationRequest,
        emulation: JsonEmulation | None,
        deadline: float,
    ) -> AsyncIterator[StreamEvent]:
        translator = StreamTranslator(request.meter, emulation)
        events = aiter(upstream)
        within = Within(request.cancelled, deadline, message=_CANCELLED)
        try:
            with self._upstream_errors():
                while translator.finished is None:
                    event = await within.wait(anext(events, None))
                    if event is None:
                        raise MalformedStream("the stream ended before message_stop")
                    for out in translator.feed(event):
                        yield out
        except ClientClosedRequest:
            return
        finally:
            within.close()
            await upstream.close()

    # -- waiting -------------------------------------------------------------------------------

    def _deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.config.timeout_s

    def _timed_out(self) -> UpstreamError:
        return UpstreamError(
            f"Backend '{self.name}' gave no complete answer within {self.config.timeout_s:g} s "
            "(its timeout_s).",
            backend=self.name,
            retryable=True,
            code="upstream_timeout",
        )

    # -- errors --------------------------------------------------------------------------------

    @contextmanager
    def _upstream_errors(self) -> Iterator[None]:
        """The one place where the SDK's and the transport's exceptions become corral's."""
        try:
            yield
        except anthropic.APIStatusError as exc:
            raise self._status_error(exc) from None
        except (anthropic.APITimeoutError, TimeoutError):
            raise self._timed_out() from None
        except anthropic.APIConnectionError as exc:
            raise classify(self.name, None, self._redact(str(exc))) from None
        except httpx2.HTTPError as exc:  # raised by the transport while a stream is read
            detail = f"the connection broke mid-stream ({type(exc).__name__})"
            raise classify(self.name, None, detail) from None
        except (MalformedStream, ValueError) as exc:  # bad JSON or event shapes in the stream
            raise UpstreamError(
                f"Backend '{self.name}' sent a malformed stream.",
                backend=self.name,
                retryable=True,
                code="upstream_malformed",
                detail=self._redact(str(exc)),
            ) from None

    def _status_error(self, exc: anthropic.APIStatusError) -> UpstreamFailure:
        status = exc.status_code
        if status < 400:  # an `error` event inside a stream
            status = _ERROR_TYPE_STATUS.get(exc.type or "", 500)
        kind = exc.type or "error"
        detail = f"{kind}: {exc.api_message}" if exc.api_message else kind
        retry_after = retry_after_s(exc.response.headers)
        return classify(self.name, status, self._redact(detail), retry_after)

    def _redact(self, text: str) -> str:
        return redact_key(text, self._key)
