"""Fine-tuned models on a shared llama.cpp base: LoRA adapters switched per request.

Each GGUF LoRA is loaded once per model (milliseconds, no second copy of the base) into
`LoadedAdapters`, up to the model's `max_adapters` kept once no context runs with them (least
recently used freed first, a deleted model's at the next switch); an adapter some context or
sequence still runs with is never freed. Which adapter a context runs with is its own state
(`ContextAdapter`): a request names the adapter (`GenerationRequest.adapter`), or none for the
base itself. A context's KV cache holds what the adapter of the time computed; reused under
another adapter it is wrong by whole nats per token, so the prefix cache is keyed by adapter:
the single-sequence path (`AdapterSwitch`) forgets its prefix at a switch, the batch scheduler
records each slot's adapter. `AdapterBackend` is a fine-tuned model's backend: its base's, with
the adapter set on every request.
"""

from __future__ import annotations

import ctypes
import dataclasses
from collections import OrderedDict
from collections.abc import AsyncIterator, Collection
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


class LoadedAdapters:
    """The adapters loaded into one `llama_cpp.Llama`'s model, for any of its contexts. Not
    thread-safe: call it from the thread that runs the model's contexts."""

    def __init__(self, llm: Any, limit: int = 8) -> None:
        self._llm = llm
        self._limit = limit
        self._loaded: OrderedDict[Path, Any] = OrderedDict()

    @property
    def loaded(self) -> list[Path]:
        """The loaded adapters, least recently used first."""
        return list(self._loaded)

    def handle(self, adapter: Path) -> Any:
        """`adapter`'s llama.cpp handle, loaded from its file the first time; marks it used."""
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

    def evict(self, in_use: Collection[Path | None]) -> None:
        """Free the adapters of deleted models, then the least recently used past the limit;
        never one in `in_use` (a context or a sequence still runs with it)."""
        import llama_cpp

        others = [path for path in self._loaded if path not in in_use]
        gone = [path for path in others if not path.is_file()]
        excess = len(self._loaded) - len(gone) - self._limit
        kept = [path for path in others if path not in gone]
        for path in gone + kept[: max(0, excess)]:
            llama_cpp.llama_adapter_lora_free(self._loaded.pop(path))


class ContextAdapter:
    """The adapter one llama.cpp context runs with (None: the base alone). Setting it only
    changes the list of adapters the context's next graphs apply: the KV cache is untouched,
    keeping it consistent is the caller's part."""

    def __init__(self, ctx: Any, adapters: LoadedAdapters) -> None:
        self._ctx = ctx
        self._adapters = adapters
        self.current: Path | None = None

    def use(self, adapter: Path | None, scale: float = 1.0) -> bool:
        """Run the next decodes with `adapter`; returns whether the context changed."""
        import llama_cpp

        if adapter == self.current:
            if adapter is not None:
                self._adapters.handle(adapter)  # recently used: the last to be freed
            return False
        if adapter is None:
            llama_cpp.llama_set_adapters_lora(self._ctx, None, 0, None)
        else:
            handles = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(self._adapters.handle(adapter))
            scales = (ctypes.c_float * 1)(scale)
            llama_cpp.llama_set_adapters_lora(self._ctx, handles, 1, scales)
        self.current = adapter
        return True


class AdapterSwitch:
    """The adapters of one `llama_cpp.Llama` run one request at a time (`slots` = 1): at
    most `limit` loaded, and a switch forgets the context's cached prefix. Not thread-safe:
    call it from the instance's own thread, as the context is."""

    def __init__(self, llm: Any, limit: int = 8) -> None:
        self._llm = llm
        self._adapters = LoadedAdapters(llm, limit)
        self._context = ContextAdapter(llm._ctx.ctx, self._adapters)

    @property
    def loaded(self) -> list[Path]:
        """The loaded adapters, least recently used first."""
        return self._adapters.loaded

    @property
    def current(self) -> Path | None:
        return self._context.current

    def use(self, adapter: Path | None, scale: float = 1.0) -> bool:
        """Run the next requests with `adapter` (None: the base alone). Returns whether the
        context changed, in which case its cached prefix was forgotten."""
        if not self._context.use(adapter, scale):
            return False
        self._llm.reset()
        self._adapters.evict({adapter})
        return True


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
