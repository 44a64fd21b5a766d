"""Fine-tuned adapters on a shared llama.cpp base, switched per request: each GGUF LoRA is
loaded once (milliseconds, no second copy of the base), and a request names the adapter its
context runs with, or none for the base itself.

Not wired into the llama.cpp backend yet (docs/fine_tuning.md): this is the primitive it needs.
A context's KV cache holds the prefix the last adapter computed; reused under another adapter
it is wrong by whole nats per token, so a switch forgets it."""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

from corral.errors import InvalidRequest


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
            model = self._llm._model.model
            handle = llama_cpp.llama_adapter_lora_init(model, str(adapter).encode())
            if not handle:
                raise InvalidRequest(f"llama.cpp could not load the adapter {adapter.name}.")
            # Freed with the model (llama.cpp frees a model's adapters with it).
            self._loaded[adapter] = handle
        return handle
