"""`Gateway`: runs one request through the pipeline steps in order and records what it used.

Endpoints call `generate`, `stream` or `embed` with protocol-free domain values; the gateway
resolves the model in the catalog, hands the request to that model's backend, and reports tokens
and timings to the metrics. New steps (entitlement, admission, privacy, settlement) go here.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from corral.backends.base import (
    EmbeddingResult,
    Finished,
    GenerationRequest,
    GenerationResult,
    StreamEvent,
    TextDelta,
    Usage,
)
from corral.catalog import Catalog, ModelEntry
from corral.observability.metrics import Metrics
from corral.pipeline.auth import Principal


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_id: str
    principal: Principal


class Gateway:
    def __init__(self, catalog: Catalog, metrics: Metrics) -> None:
        self.catalog = catalog
        self._metrics = metrics

    def resolve(self, ctx: RequestContext, model_id: str) -> ModelEntry:
        return self.catalog.get(model_id)

    async def generate(
        self, ctx: RequestContext, model: ModelEntry, request: GenerationRequest
    ) -> GenerationResult:
        result = await model.backend.generate(request)
        self._record_usage(model, result.usage)
        return result

    async def stream(
        self, ctx: RequestContext, model: ModelEntry, request: GenerationRequest
    ) -> AsyncIterator[StreamEvent]:
        """Admission happens before this returns; the iterator then only yields events."""
        events = await model.backend.stream(request)
        return self._observe_stream(model, events, time.perf_counter())

    async def embed(
        self, ctx: RequestContext, model: ModelEntry, inputs: list[str]
    ) -> EmbeddingResult:
        result = await model.backend.embed(inputs)
        self._record_usage(model, Usage(result.prompt_tokens, 0))
        return result

    async def _observe_stream(
        self, model: ModelEntry, events: AsyncIterator[StreamEvent], started: float
    ) -> AsyncIterator[StreamEvent]:
        first = True
        async for event in events:
            if first and isinstance(event, TextDelta) and event.text:
                self._metrics.time_to_first_token.labels(model.id).observe(
                    time.perf_counter() - started
                )
                first = False
            if isinstance(event, Finished):
                self._record_usage(model, event.usage)
            yield event

    def _record_usage(self, model: ModelEntry, usage: Usage) -> None:
        self._metrics.tokens.labels(model.id, "input").inc(usage.prompt_tokens)
        self._metrics.tokens.labels(model.id, "output").inc(usage.completion_tokens)
