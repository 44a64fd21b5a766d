"""Prompt scoring: the logprob of every prompt token (`echo` with `logprobs`), as evaluations use.

A multiple-choice item is scored by sending its context once per option; the options share the
context's tokens. Two reuses keep that cheap: the KV cells of the prefix the instance already
holds are kept (only the rest is decoded), and the logprobs already computed for a prefix are
kept too, since a token's logprob depends on the tokens before it and nothing else.

Where the prompt is decoded is a `Target`: the instance's own context (`OwnContext`, one
sequence at a time), or with batching one more sequence of the scheduler's context.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Protocol

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


class Target(Protocol):
    """The KV cache sequence a prompt is scored in."""

    step: int
    """Tokens decoded at once: each brings a row of logits."""

    def held(self) -> list[int]:
        """The tokens the sequence's cells hold, from position 0."""
        ...

    def keep(self, count: int) -> None:
        """Drop the sequence's cells from position `count` on."""
        ...

    def decode_all(self, batch: list[int]) -> np.ndarray:
        """Decode `batch` after the held tokens: one row of logits per token. Raises
        `RuntimeError` when llama.cpp fails or aborts, keeping only the held tokens."""
        ...


class OwnContext:
    """Sequence 0 of a `Llama`'s own context, as llama-cpp-python tracks it."""

    def __init__(self, llama: llama_cpp.Llama) -> None:
        self._llama = llama
        self.step = min(llama.n_batch, PROMPT_STEP)

    def held(self) -> list[int]:
        held: list[int] = self._llama.input_ids[: self._llama.n_tokens].tolist()
        return held

    def keep(self, count: int) -> None:
        self._llama._ctx.kv_cache_seq_rm(-1, count, -1)
        self._llama.n_tokens = count

    def decode_all(self, batch: list[int]) -> np.ndarray:
        llama = self._llama
        n_past = llama.n_tokens
        llama._batch.set_batch(batch=batch, n_past=n_past, logits_all=True)
        llama._ctx.decode(llama._batch)
        llama.input_ids[n_past : n_past + len(batch)] = batch
        llama.n_tokens += len(batch)
        return logit_rows(llama.ctx, len(batch), llama.n_vocab())


def logit_rows(ctx: Any, count: int, n_vocab: int) -> np.ndarray:
    """A copy of the logits of the last decode, `count` rows (every token asked for its own)."""
    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits(ctx), shape=(count * n_vocab,))
    return logits.reshape(count, n_vocab).copy()


def score_prompt(
    llama: llama_cpp.Llama,
    tokens: list[int],
    top_n: int,
    cache: PromptScores,
    cancel: Cancellation,
    abort: AbortSwitch | None = None,
    target: Target | None = None,
) -> list[TokenLogprob] | None:
    """One entry per prompt token (the first has no logprob, as OpenAI's), None if cancelled
    (`abort`, the switch of the target's context, stops a batch half-way).

    `target`: where to decode, by default `llama`'s own context. Leaves it holding the prompt
    but its last token, which generation after it decodes again (to sample from its logits).
    """
    target = target if target is not None else OwnContext(llama)
    known = _common_prefix(cache.tokens, tokens) if cache.top_n == top_n else 0
    entries = cache.entries[:known] or [_first(llama, tokens[0])]
    # Entry i needs the logits after tokens[:i], the output of position i - 1.
    first_needed = len(entries) - 1
    kept = min(_common_prefix(target.held(), tokens), first_needed)
    target.keep(kept)
    with contextlib.nullcontext() if abort is None else abort.watching([cancel]):
        for start in range(kept, len(tokens), target.step):
            if cancel.is_set():
                return None
            batch = tokens[start : start + target.step]
            try:
                rows = target.decode_all(batch)
            except RuntimeError:  # how a failed `llama_decode` is reported
                if abort is None or not abort.tripped():
                    raise
                return None
            for row, position in enumerate(range(start, start + len(batch))):
                following = position + 1
                if first_needed <= position and following < len(tokens):
                    entries.append(_entry(llama, rows[row], tokens[following], top_n))
    target.keep(len(tokens) - 1)
    cache.tokens, cache.entries, cache.top_n = list(tokens), entries, top_n
    return entries


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
