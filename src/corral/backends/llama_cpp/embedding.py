"""Embeddings on a local GGUF: inputs counted and checked before they queue, then embedded one
at a time by the embedder instance's thread."""

from __future__ import annotations

import llama_cpp

from corral.backends.base import EmbeddingRequest
from corral.errors import ContextLengthExceeded
from corral.settings import LocalModelConfig


def count_tokens(vocab: llama_cpp.Llama, inputs: list[str], config: LocalModelConfig) -> list[int]:
    """Each input's tokens; `ContextLengthExceeded` naming the first that is too long."""
    limit = config.embedding_context_length
    counts = [len(vocab.tokenize(text.encode("utf-8"))) for text in inputs]
    for index, count in enumerate(counts):
        if count > limit:
            raise ContextLengthExceeded(
                f"Input {index} has {count} tokens; model '{config.name}' embeds at "
                f"most {limit} tokens per input. Shorten or split it.",
                param="input",
            )
    return counts


def embed_each(
    llama: llama_cpp.Llama, request: EmbeddingRequest, counts: list[int]
) -> list[list[float]]:
    """One input at a time (the embedder decodes one sequence at a time anyway), so a
    cancelled request stops between inputs and the meter counts those embedded."""
    vectors: list[list[float]] = []
    for text, count in zip(request.inputs, counts, strict=True):
        if request.cancelled.is_set():
            break
        vectors.extend(llama.embed([text], normalize=True, truncate=False))
        request.meter.prompt_tokens += count
    return vectors
