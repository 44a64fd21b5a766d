"""Opening GGUF files with llama.cpp: full instances, embedding instances, and metadata."""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from corral.backends.llama_cpp import native_logs
from corral.errors import ConfigError
from corral.settings import LocalModelConfig

native_logs.install()
_LOADING = threading.Lock()


def _llama(path: Path, **options: Any) -> llama_cpp.Llama:
    """`llama_cpp.Llama(...)` without its chatter and without touching the process's stderr.

    With `verbose=False`, llama-cpp-python points file descriptors 1 and 2 at /dev/null while
    it loads, which silences every thread of the server meanwhile, and two loads at once can
    leave them there for good. llama.cpp's own lines already go to logging (`native_logs`);
    the Python-level prints of `verbose=True` are caught here instead, one load at a time.
    """
    with _LOADING, _python_output_caught(), _weights_kept_off_amx():
        llama = llama_cpp.Llama(str(path), verbose=True, **options)
    llama.verbose = False  # no per-request prints either
    return llama


@contextlib.contextmanager
def _weights_kept_off_amx() -> Iterator[None]:
    """On a CPU with AMX, llama.cpp repacks the weights for its AMX kernels, which crash the
    process at the first prompt of two tokens or more on some machines, this machine kind among
    them (`ggml_backend_amx_mul_mat`, llama.cpp issue #20824, closed unfixed). There the weights
    stay in plain buffers (`use_extra_bufts` off); llama-cpp-python has no argument for it, so
    its default model parameters are wrapped for the duration of one load (loads hold
    `_LOADING`). Elsewhere nothing changes, and the AVX repacking that is safe stays on."""
    if b"AMX_INT8 = 1" not in llama_cpp.llama_print_system_info():
        yield
        return
    low_level = llama_cpp.llama_cpp
    defaults = low_level.llama_model_default_params

    def without_extra_buffers() -> llama_cpp.llama_model_params:
        params: llama_cpp.llama_model_params = defaults()
        params.use_extra_bufts = False
        return params

    low_level.llama_model_default_params = without_extra_buffers
    try:
        yield
    finally:
        low_level.llama_model_default_params = defaults


@contextlib.contextmanager
def _python_output_caught() -> Iterator[None]:
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield


@dataclass(frozen=True, slots=True)
class GgufInfo:
    """What corral reads from a GGUF file's metadata."""

    architecture: str
    context_length: int | None
    chat_template: str | None
    licence: str | None
    display_name: str | None


def open_vocab(path: Path) -> llama_cpp.Llama:
    """Load only the tokenizer (fast, no weights): for metadata, templates and token counts."""
    try:
        return _llama(path, vocab_only=True)
    except (ValueError, RuntimeError) as exc:
        raise ConfigError(f"{path} is not a GGUF model llama.cpp can load: {exc}") from None


def read_info(vocab: llama_cpp.Llama) -> GgufInfo:
    meta: dict[str, str] = vocab.metadata
    arch = meta.get("general.architecture", "unknown")
    ctx = meta.get(f"{arch}.context_length")
    return GgufInfo(
        architecture=arch,
        context_length=int(ctx) if ctx and ctx.isdigit() else None,
        chat_template=meta.get("tokenizer.chat_template"),
        licence=meta.get("general.license"),
        display_name=meta.get("general.name"),
    )


def chat_formatter(vocab: llama_cpp.Llama, template: str) -> Jinja2ChatFormatter:
    eos, bos = vocab.token_eos(), vocab.token_bos()
    return Jinja2ChatFormatter(
        template=template,
        eos_token=vocab._model.token_get_text(eos) if eos != -1 else "",
        bos_token=vocab._model.token_get_text(bos) if bos != -1 else "",
        stop_token_ids=[eos],
    )


KV_CACHE_TYPES = {
    "f16": llama_cpp.GGML_TYPE_F16,
    "q8_0": llama_cpp.GGML_TYPE_Q8_0,
    "q4_0": llama_cpp.GGML_TYPE_Q4_0,
}


def open_generator(config: LocalModelConfig, n_ctx: int) -> llama_cpp.Llama:
    n_threads = config.threads or os.cpu_count() or 1
    return _llama(
        config.path,
        n_ctx=n_ctx,
        n_batch=512,
        n_threads=n_threads,
        n_threads_batch=n_threads,
        flash_attn=config.flash_attention,
        type_k=KV_CACHE_TYPES[config.kv_cache_type],
        type_v=KV_CACHE_TYPES[config.kv_cache_type],
        use_mmap=True,
        logits_all=False,
    )


def open_embedder(config: LocalModelConfig) -> llama_cpp.Llama:
    # Mean pooling over a causal model needs a whole input in one micro-batch.
    n_threads = config.threads or os.cpu_count() or 1
    n_ctx = config.embedding_context_length
    return _llama(
        config.path,
        embedding=True,
        pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
        flash_attn=config.flash_attention,
        n_ctx=n_ctx,
        n_batch=n_ctx,
        n_ubatch=n_ctx,
        n_threads=n_threads,
        n_threads_batch=n_threads,
        use_mmap=True,
    )
