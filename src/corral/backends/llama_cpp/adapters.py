"""Fine-tuned models on a shared llama.cpp base: LoRA adapters switched per request.

Each GGUF LoRA is loaded once per instance (milliseconds, no second copy of the base), up to
the model's `max_adapters` (least recently used freed first, a deleted model's at the next
switch), and a request names the adapter its context runs with (`GenerationRequest.adapter`),
or none for the base itself. A context's KV cache holds the prefix the last adapter computed;
reused under another adapter it is wrong by whole nats per token, so a switch forgets it: the
prefix cache is in effect keyed by adapter. `AdapterBackend` is a fine-tuned model's backend:
its base's, with the adapter set on every request.
"""

from __future__ import annotations

import ctypes
import dataclasses
from collections import OrderedDict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from corral.backends.base import (
    Backend,
    BackendHealth,
    EmbeddingRequest,
    EmbeddingResult,
    GenerationRequest,
    GenerationResult,
    StreamEvent,
)
from corral.errors import BackendFailed, InvalidRequest


class AdapterSwitch:
    """The adapters of one `llama_cpp.Llama`, at most `limit` loaded, least recently used
    freed first; one whose file is gone (its model was deleted) is freed at the next switch.
    Not thread-safe: call it from the instance's own thread, as the context is (an adapter is
    freed only once the context no longer runs with it)."""

    def __init__(self, llm: Any, limit: int = 8) -> None:
        self._llm = llm
        self._limit = limit
        self._loaded: OrderedDict[Path, Any] = OrderedDict()
        self.current: Path | None = None

    @property
    def loaded(self) -> list[Path]:
        """The loaded adapters, least recently used first."""
        return list(self._loaded)

    def use(self, adapter: Path | None, scale: float = 1.0) -> bool:
        """Run the next requests with `adapter` (None: the base alone). Returns whether the
        context changed, in which case its cached prefix was forgotten."""
        import llama_cpp

        if adapter == self.current:
            if adapter is not None:
                self._loaded.move_to_end(adapter)
            return False
        ctx = self._llm._ctx.ctx
        if adapter is None:
            llama_cpp.llama_set_adapters_lora(ctx, None, 0, None)
        else:
            handle = self._load(adapter)
            handles = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(handle)
            scales = (ctypes.c_float * 1)(scale)
            llama_cpp.llama_set_adapters_lora(ctx, handles, 1, scales)
        self.current = adapter
        self._llm.reset()
        self._evict()
        return True

    def _load(self, adapter: Path) -> Any:
        import llama_cpp

        handle = self._loaded.get(adapter)
        if handle is None:
            if not adapter.is_file():
                raise BackendFailed(
                    "The fine-tuned model's adapter is missing.", detail=str(adapter)
                )
            model = self._llm._model.model
            handle = llama_cpp.llama_adapter_lora_init(model, str(adapter).encode())
            if not handle:
                raise BackendFailed(
                    "llama.cpp could not load the fine-tuned model's adapter.", detail=str(adapter)
                )
            self._loaded[adapter] = handle
        self._loaded.move_to_end(adapter)
        return handle

    def _evict(self) -> None:
        """Free the adapters of deleted models, then the least recently used past the limit;
        never the one the context runs with."""
        import llama_cpp

        others = [path for path in self._loaded if path != self.current]
        gone = [path for path in others if not path.is_file()]
        excess = len(self._loaded) - len(gone) - self._limit
        kept = [path for path in others if path not in gone]
        for path in gone + kept[: max(0, excess)]:
            llama_cpp.llama_adapter_lora_free(self._loaded.pop(path))


class AdapterBackend:
    """A fine-tuned model: the base model's backend (its instances, queue and fairness), each
    request run with `adapter`. The base's lifecycle is the base entry's: start and close do
    nothing here."""

    def __init__(self, base: Backend, adapter: Path, name: str) -> None:
        self.base = base
        self.adapter = adapter
        self._name = name

    def _with_adapter(self, request: GenerationRequest) -> GenerationRequest:
        return dataclasses.replace(request, adapter=self.adapter)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        return await self.base.generate(self._with_adapter(request))

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        return await self.base.stream(self._with_adapter(request))

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResult:
        raise InvalidRequest(
            f"Model '{self._name}' is a fine-tuned chat model; it does not serve embeddings.",
            param="model",
        )

    async def count_prompt_tokens(self, request: GenerationRequest) -> int:
        return await self.base.count_prompt_tokens(request)

    def health(self) -> BackendHealth:
        return self.base.health()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None
