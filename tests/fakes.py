"""A fake backend, used like a real one: it implements the same `Backend` protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator

from corral.backends.base import (
    BackendHealth,
    EmbeddingRequest,
    EmbeddingResult,
    Finished,
    GenerationRequest,
    GenerationResult,
    StreamEvent,
    TextDelta,
    Usage,
)


class EchoBackend:
    """Answers with the last message's words, one word per token."""

    def _words(self, request: GenerationRequest) -> list[str]:
        text = request.messages[-1].content if request.messages else (request.prompt or "")
        words = [w + " " for w in text.split()]
        limit = request.params.max_tokens
        return words[:limit] if limit is not None else words

    def _usage(self, request: GenerationRequest, produced: int) -> Usage:
        prompt = request.messages or ()
        return Usage(sum(len(m.content.split()) for m in prompt), produced)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        words = self._words(request)
        request.meter.prompt_tokens = self._usage(request, 0).prompt_tokens
        request.meter.completion_tokens = len(words)
        return GenerationResult("".join(words), "stop", self._usage(request, len(words)))

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        words = self._words(request)

        async def events() -> AsyncIterator[StreamEvent]:
            request.meter.prompt_tokens = self._usage(request, 0).prompt_tokens
            for word in words:
                request.meter.completion_tokens += 1
                yield TextDelta(word)
            yield Finished("stop", self._usage(request, len(words)))

        return events()

    async def count_prompt_tokens(self, request: GenerationRequest) -> int:
        return self._usage(request, 0).prompt_tokens

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResult:
        inputs = request.inputs
        request.meter.prompt_tokens = len(inputs)
        return EmbeddingResult([[float(len(text)), 1.0] for text in inputs], len(inputs))

    def health(self) -> BackendHealth:
        return BackendHealth(True, "fake")

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None
