"""Prompt scoring: the logprob of every prompt token (`echo` with `logprobs`), as evaluations use.

A multiple-choice item is scored by sending its context once per option; the options share the
context's tokens. Two reuses keep that cheap: the KV cells of the prefix the instance already
holds are kept (only the rest is decoded), and the logprobs already computed for a prefix are
kept too, since a token's logprob depends on the tokens before it and nothing else.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import llama_cpp
import numpy as np

from corral.backends.base import TokenLogprob, TopLogprob
from corral.backends.llama_cpp.abort import AbortSwitch
from corral.backends.llama_cpp.engine import PROMPT_STEP, log_softmax, token_text
from corral.cancellation import Cancellation


@dataclass(slots=True)
class PromptScores:
    """The last scored prompt of one instance and its tokens' logprobs."""

    tokens: list[int] = field(default_factory=list)
    entries: list[TokenLogprob] = field(default_factory=list)
    top_n: int = 0


def score_prompt(
    llama: llama_cpp.Llama,
    tokens: list[int],
    top_n: int,
    cache: PromptScores,
    cancel: Cancellation,
    abort: AbortSwitch | None = None,
) -> list[TokenLogprob] | None:
    """One entry per prompt token (the first has no logprob, as OpenAI's), None if cancelled
    (`abort`, the switch of `llama`'s context, stops a batch half-way).

    Leaves the instance's KV cache holding the prompt, so generation after it decodes only the
    last token again.
    """
    known = _common_prefix(cache.tokens, tokens) if cache.top_n == top_n else 0
    entries = cache.entries[:known] or [_first(llama, tokens[0])]
    # Entry i needs the logits after tokens[:i], the output of position i - 1.
    first_needed = len(entries) - 1
    kept = min(_common_prefix(llama.input_ids[: llama.n_tokens].tolist(), tokens), first_needed)
    llama._ctx.kv_cache_seq_rm(-1, kept, -1)
    llama.n_tokens = kept
    step = min(llama.n_batch, PROMPT_STEP)
    with contextlib.nullcontext() if abort is None else abort.watching([cancel]):
        for start in range(kept, len(tokens), step):
            if cancel.is_set():
                return None
            batch = tokens[start : start + step]
            try:
                rows = _decode_all(llama, batch)
            except RuntimeError:  # how llama-cpp-python reports a failed `llama_decode`
                if abort is None or not abort.tripped():
                    raise
                return None
            for row, position in enumerate(range(start, start + len(batch))):
                following = position + 1
                if first_needed <= position and following < len(tokens):
                    entries.append(_entry(llama, rows[row], tokens[following], top_n))
    # Generation re-decodes the last token, to sample from its logits.
    llama.n_tokens = len(tokens) - 1
    cache.tokens, cache.entries, cache.top_n = list(tokens), entries, top_n
    return entries


def _decode_all(llama: llama_cpp.Llama, batch: list[int]) -> np.ndarray:
    """Decode `batch` after the cached tokens, with logits for every position."""
    n_past = llama.n_tokens
    llama._batch.set_batch(batch=batch, n_past=n_past, logits_all=True)
    llama._ctx.decode(llama._batch)
    llama.input_ids[n_past : n_past + len(batch)] = batch
    llama.n_tokens += len(batch)
    n_vocab = llama.n_vocab()
    logits = np.ctypeslib.as_array(
        llama_cpp.llama_get_logits(llama.ctx), shape=(len(batch) * n_vocab,)
    )
    return logits.reshape(len(batch), n_vocab).copy()


def _first(llama: llama_cpp.Llama, token: int) -> TokenLogprob:
    piece = llama.detokenize([token])
    return TokenLogprob(token_text(piece), None, list(piece), [])


def _entry(
    llama: llama_cpp.Llama,
    logits: np.ndarray,
    token: int,
    top_n: int,
) -> TokenLogprob:
    logprobs = log_softmax(logits)
    top: list[TopLogprob] = []
    if top_n:
        best = np.argpartition(-logprobs, top_n)[:top_n]
        for candidate in sorted(best.tolist(), key=lambda t: -logprobs[t]):
            raw = llama.detokenize([candidate])
            top.append(TopLogprob(token_text(raw), float(logprobs[candidate]), list(raw)))
    piece = llama.detokenize([token])
    return TokenLogprob(token_text(piece), float(logprobs[token]), list(piece), top)


def _common_prefix(a: list[int], b: list[int]) -> int:
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count
