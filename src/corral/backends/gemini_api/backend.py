"""`GeminiBackend`: the `Backend` protocol over Google's Gemini API, through the `google-genai` SDK.

Why the official SDK and not plain httpx: the SDK can be pointed anywhere
(`HttpOptions(base_url=...)`, so tests run it against a loopback fake), it retries nothing when
`retry_options` is left unset (one attempt; corral's router owns retries and fallback), and it
takes an `httpx.AsyncClient` of ours, which keeps it off its aiohttp path (whose connection
errors are retried implicitly) and puts connection pooling and timeouts in our hands. The API
version is pinned to `v1beta`, where `responseJsonSchema` and `parametersJsonSchema` live (this
SDK release defaults to `v1`).

Every SDK or transport failure is translated at one boundary (`_upstream_errors`) into corral's
`UpstreamError` family; the provider key never appears in a message. A request stops as soon
as its `cancelled` flag is set, and gives up after `timeout_s` (first byte to last).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pydantic
from google import genai
from google.genai import errors, types

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
    Usage,
)
from corral.backends.gemini_api import translate
from corral.backends.remote.common import (
    classify,
    meter_text,
    prompt_token_bound,
    prompt_token_estimate,
    redact_key,
    retry_after_s,
)
from corral.backends.remote.http import tls_context
from corral.backends.token_estimates import estimate_tokens
from corral.cancellation import Cancellation, Within, await_within
from corral.errors import InvalidRequest, UpstreamError, UpstreamFailure
from corral.observability.redact import redact
from corral.settings import RemoteModelConfig

T = TypeVar("T")
_CANCELLED = "The request was cancelled; Gemini was told to stop."
_END = object()
"""Put on a stream's queue after its last chunk."""
_MALFORMED = (errors.UnknownApiResponseError, json.JSONDecodeError, pydantic.ValidationError)


@dataclass(frozen=True, slots=True)
class _Call:
    """One prepared request: where it goes and what it says."""

    contents: list[types.Content]
    config: types.GenerateContentConfig
    deadline: float
    cancelled: Cancellation


class GeminiBackend:
    """Serves one `[[models]]` entry with `backend = "gemini"`."""

    def __init__(self, config: RemoteModelConfig, key: str) -> None:
        self.config = config
        self.name = config.name
        self._key = key
        # HTTPS_PROXY / NO_PROXY from the environment, the same CAs as every upstream.
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(config.timeout_s), verify=tls_context(), trust_env=True
        )
        options = types.HttpOptions(
            base_url=config.base_url,
            api_version="v1beta",
            timeout=int(config.timeout_s * 1000),
            httpx_async_client=self._http,
        )
        self._client = genai.Client(api_key=key, vertexai=False, http_options=options)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Nothing to load: the connection pool opens on the first request."""

    async def close(self) -> None:
        await self._client.aio.aclose()
        await self._http.aclose()

    def health(self) -> BackendHealth:
        where = redact(self.config.base_url) if self.config.base_url else "Google's Gemini API"
        detail = f"remote model '{self.config.upstream_model}' at {where}"
        return BackendHealth(True, detail)  # nothing queues here: the provider has the queue

    async def count_prompt_tokens(self, request: GenerationRequest) -> int:
        self._prepare(request)  # a request Gemini cannot be sent fails here, before budgeting
        return prompt_token_bound(request)

    # -- generation --------------------------------------------------------------------------

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        call = self._prepare(request)
        request.meter.prompt_tokens = prompt_token_estimate(request)
        job = asyncio.ensure_future(
            self._client.aio.models.generate_content(
                model=self.config.upstream_model, contents=call.contents, config=call.config
            )
        )
        with _owned(job):
            async with self._upstream_errors():
                response = await self._within(job, call)
        answer = translate.from_response(response)
        meter = request.meter
        if answer.usage is None:  # an estimate, as for a stream cut short
            meter_text(meter, answer.text + "".join(c.arguments for c in answer.tool_calls))
        usage = answer.usage or Usage(meter.prompt_tokens, meter.completion_tokens)
        meter.prompt_tokens, meter.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        return GenerationResult(
            text=answer.text,
            finish_reason=translate.finish_reason(answer.finish, bool(answer.tool_calls)),
            usage=usage,
            tool_calls=answer.tool_calls or None,
        )

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        """Open the stream and read its first chunk here, so refusals raise before any event."""
        call = self._prepare(request)
        request.meter.prompt_tokens = prompt_token_estimate(request)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        pump = asyncio.ensure_future(self._pump(call, queue))
        within = Within(call.cancelled, call.deadline, message=_CANCELLED)
        try:
            first = await self._next_chunk(queue, within)
        except BaseException:
            pump.cancel()
            raise
        finally:
            within.close()  # the stream's own reads share another, made when they start
        return self._events(request, call, queue, pump, first)

    async def _pump(self, call: _Call, queue: asyncio.Queue[Any]) -> None:
        """Read the SDK's stream in one task of its own, so stopping it closes the response."""
        try:
            chunks = await self._client.aio.models.generate_content_stream(
                model=self.config.upstream_model, contents=call.contents, config=call.config
            )
            async for chunk in chunks:
                queue.put_nowait(chunk)
            queue.put_nowait(_END)
        except Exception as exc:  # handed to the reader, which translates it
            queue.put_nowait(exc)

    async def _next_chunk(
        self, queue: asyncio.Queue[Any], within: Within
    ) -> types.GenerateContentResponse | None:
        async with self._upstream_errors():
            item = await within.wait(queue.get())
            if isinstance(item, BaseException):
                raise item
        return None if item is _END else item

    async def _events(
        self,
        request: GenerationRequest,
        call: _Call,
        queue: asyncio.Queue[Any],
        pump: asyncio.Future[None],
        first: types.GenerateContentResponse | None,
    ) -> AsyncIterator[StreamEvent]:
        progress = _StreamProgress(request)
        chunk = first
        within = Within(call.cancelled, call.deadline, message=_CANCELLED)
        try:
            with _owned(pump):
                while chunk is not None:
                    for event in progress.take(translate.from_response(chunk)):
                        yield event
                    chunk = await self._next_chunk(queue, within)
                yield progress.finished(self.name)
        finally:
            within.close()

    # -- embeddings --------------------------------------------------------------------------

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResult:
        """Vectors from `batchEmbedContents`.

        Gemini reports no token counts for embeddings, so `prompt_tokens` is an estimate
        (`estimate_tokens`: about 4 bytes a token).
        """
        inputs = request.inputs
        if not inputs:
            return EmbeddingResult([], 0)
        call = _Call([], types.GenerateContentConfig(), self._deadline(), request.cancelled)
        # One Content per input: given bare strings, the SDK merges them into one multimodal
        # content (one vector) for models named gemini-*.
        contents: Any = [translate.user_text(text) for text in inputs]
        job = asyncio.ensure_future(
            self._client.aio.models.embed_content(
                model=self.config.upstream_model, contents=contents
            )
        )
        with _owned(job):
            async with self._upstream_errors():
                response = await self._within(job, call)
                vectors = translate.embedding_values(response, len(inputs))
        return EmbeddingResult(vectors, sum(estimate_tokens(text) for text in inputs))

    # -- shared ------------------------------------------------------------------------------

    def _prepare(self, request: GenerationRequest) -> _Call:
        if request.params.logprobs:
            raise InvalidRequest(
                f"Model '{self.name}' (Gemini) does not return logprobs; send the request "
                "without 'logprobs'.",
                param="logprobs",
            )
        prompt = translate.to_prompt(request)
        config = translate.to_config(request.params, prompt.system)
        return _Call(prompt.contents, config, self._deadline(), request.cancelled)

    def _deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.config.timeout_s

    async def _within(self, job: asyncio.Future[T], call: _Call) -> T:
        """`job`'s result, unless the request is cancelled or its deadline passes first."""
        return await await_within(job, call.cancelled, call.deadline, message=_CANCELLED)

    @asynccontextmanager
    async def _upstream_errors(self) -> AsyncIterator[None]:
        """The one place where the SDK's and the transport's exceptions become corral's."""
        try:
            yield
        except errors.APIError as exc:
            raise self._api_error(exc) from None
        except TimeoutError:  # the deadline of the whole call, not one connection's
            raise classify(
                self.name, None, f"no answer within {self.config.timeout_s:g} s"
            ) from None
        except httpx.TimeoutException:
            raise classify(self.name, None, "the connection timed out") from None
        except httpx.TransportError as exc:
            raise classify(self.name, None, self._redact(f"{type(exc).__name__}: {exc}")) from None
        except _MALFORMED as exc:
            raise broken(
                self.name, f"the answer could not be read ({type(exc).__name__})"
            ) from None

    def _api_error(self, exc: errors.APIError) -> UpstreamFailure:
        status = exc.code
        if status == 400 and "API_KEY_INVALID" in json.dumps(exc.details, default=str):
            status = 401  # Google answers 400 to a wrong key; it is still a credentials problem
        detail = self._redact(translate.response_detail(exc.details))
        return classify(self.name, status, detail, _retry_delay_s(exc))

    def _redact(self, text: str) -> str:
        return redact_key(text, self._key)


def broken(backend: str, detail: str) -> UpstreamError:
    """A malformed or cut-off answer: worth trying again."""
    return UpstreamError(
        f"Backend '{backend}' sent a broken answer.",
        backend=backend,
        retryable=True,
        code="upstream_malformed",
        detail=detail,
    )


@contextmanager
def _owned(job: asyncio.Future[Any]) -> Iterator[None]:
    """Cancel `job` when the block ends, whatever way; its late failure is never logged."""
    try:
        yield
    finally:
        if not job.done():
            job.cancel()
        job.add_done_callback(_swallow)


def _swallow(job: asyncio.Future[Any]) -> None:
    if not job.cancelled():
        job.exception()


def _retry_delay_s(exc: errors.APIError) -> float | None:
    """From the Retry-After header, or from Google's RetryInfo detail (`"retryDelay": "37s"`)."""
    from_header = retry_after_s(getattr(exc.response, "headers", None) or {})
    if from_header is not None:
        return from_header
    error = exc.details.get("error", {}) if isinstance(exc.details, dict) else {}
    for detail in error.get("details", []) if isinstance(error, dict) else []:
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        if isinstance(delay, str) and delay.endswith("s"):
            with suppress(ValueError):
                return float(delay[:-1])
    return None


@dataclass(slots=True)
class _StreamProgress:
    """What a stream has produced so far: tool call numbering, usage, the finish reason."""

    request: GenerationRequest
    tool_calls: int = 0
    finish: str | None = None
    usage: Usage | None = None

    def take(self, answer: translate.Answer) -> list[StreamEvent]:
        meter = self.request.meter
        events: list[StreamEvent] = []
        if answer.text:
            meter_text(meter, answer.text)
            events.append(TextDelta(answer.text))
        for call in answer.tool_calls:
            meter_text(meter, call.name + call.arguments)
            events.append(ToolCallDelta(self.tool_calls, call.id, call.name, call.arguments))
            self.tool_calls += 1
        if answer.usage is not None:  # exact counts replace the estimates
            self.usage = answer.usage
            meter.prompt_tokens = answer.usage.prompt_tokens
            if answer.usage.completion_tokens:
                meter.completion_tokens = answer.usage.completion_tokens
        self.finish = answer.finish or self.finish
        return events

    def finished(self, backend: str) -> Finished:
        if self.finish is None:
            raise broken(backend, "the stream ended before the answer was finished")
        meter = self.request.meter
        usage = self.usage or Usage(meter.prompt_tokens, meter.completion_tokens)
        if not usage.completion_tokens and meter.completion_tokens:
            usage = Usage(usage.prompt_tokens, meter.completion_tokens)
        meter.prompt_tokens, meter.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        return Finished(translate.finish_reason(self.finish, self.tool_calls > 0), usage)
