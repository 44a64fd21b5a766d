"""Fine-tuned models on a shared llama.cpp base: LoRA adapters switched per request.

Each GGUF LoRA is loaded once per instance (milliseconds, no second copy of the base), and a
request names the adapter its context runs with (`GenerationRequest.adapter`), or none for the
base itself. A context's KV cache holds the prefix the last adapter computed; reused under
another adapter it is wrong by whole nats per token, so a switch forgets it: the prefix cache
is in effect keyed by adapter. `AdapterBackend` is a fine-tuned model's backend: its base's,
with the adapter set on every request.
"""

from __future__ import annotations

import ctypes
import dataclasses
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
    """The adapters of one `llama_cpp.Llama`; not thread-safe (one request at a time, as the
    context is)."""

    def __init__(self, llm: Any) -> None:
        self._llm = llm
        self._loaded: dict[Path, Any] = {}
        self.current: Path | None = None

    def use(self, adapter: Path | None, scale: float = 1.0) -> bool:
        """Run the next requests with `adapter` (None: the base alone). Returns whether the
        context changed, in which case its cached prefix was forgotten."""
        import llama_cpp

        if adapter == self.current:
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
            # Freed with the model (llama.cpp frees a model's adapters with it).
            self._loaded[adapter] = handle
        return handle


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
