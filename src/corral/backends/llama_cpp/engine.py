"""One generation on one `Llama` instance, run synchronously in that instance's thread.

This is the only code that drives llama.cpp's token loop. It counts tokens exactly, applies stop
sequences, computes logprobs from the raw logits, and checks a cancel flag at every token, and
within the decode of a prompt batch through an `AbortSwitch`, so an abandoned request frees the
model within one token or a fraction of a second of reading its prompt.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import llama_cpp
import numpy as np
from llama_cpp.llama_grammar import LlamaGrammar

from corral.backends.base import (
    SamplingParams,
    TextDelta,
    TokenLogprob,
    TopLogprob,
    Usage,
    UsageMeter,
)
from corral.backends.llama_cpp.abort import AbortSwitch
from corral.backends.llama_cpp.decoding import StopMatcher, Utf8Assembler
from corral.cancellation import Cancellation

EndReason = Literal["stop", "length", "cancelled"]
PROMPT_STEP = 128
"""Prompt tokens evaluated between two looks at the cancel flag. Deep in a long context one step
takes seconds on a small CPU; steps of 128 cost no measurable throughput against 512."""


@dataclass(frozen=True, slots=True)
class GenerationOutcome:
    reason: EndReason
    usage: Usage


def generate(
    llama: llama_cpp.Llama,
    prompt_tokens: list[int],
    params: SamplingParams,
    grammar: LlamaGrammar | None,
    cancel: Cancellation,
    emit: Callable[[TextDelta], None],
    meter: UsageMeter,
    end_logprob: bool = False,
    abort: AbortSwitch | None = None,
) -> GenerationOutcome:
    """Generate after `prompt_tokens`, calling `emit` for each piece of visible text.

    `end_logprob`: when the model ends its text, report that token's logprob too (legacy
    completions do, as OpenAI's did; chat answers do not).

    `meter` is kept current token by token, so a request cut short is billed for what it used.
    `abort`: the switch of `llama`'s context, which stops a prompt batch half-way on a cancel.
    """
    if cancel.is_set():  # the client left while the request was queued: nothing was used
        return GenerationOutcome("cancelled", Usage(0, 0))
    # The KV cache keeps the longest common prefix with the previous prompt (llama.generate
    # re-evaluates only the rest), which is what makes follow-up turns of a chat fast.
    llama.set_seed(params.seed if params.seed is not None else random.getrandbits(31))

    cached = _evaluate_prompt(llama, prompt_tokens, cancel, abort)
    if cached is None:
        return GenerationOutcome("cancelled", Usage(len(prompt_tokens), 0))
    output = Output(llama, len(prompt_tokens), params, emit, meter, end_logprob, cached)
    tokens = llama.generate(prompt_tokens, grammar=grammar, **sampler_args(params))
    try:
        for token in tokens:
            if cancel.is_set():
                output.reason = "cancelled"
                break
            if output.take(token, lambda: last_logits(llama)):
                break
    finally:
        tokens.close()
        _free_sampler(llama)
    return output.finish()


class Output:
    """What one sequence has made of its sampled tokens so far: the text it has emitted (stop
    sequences held back, characters whole), its logprobs, its exact count and why it ended.

    The single-sequence loop above and the batch scheduler both feed it token by token.
    """

    def __init__(
        self,
        llama: llama_cpp.Llama,
        prompt_length: int,
        params: SamplingParams,
        emit: Callable[[TextDelta], None],
        meter: UsageMeter,
        end_logprob: bool,
        cached: int = 0,
        n_ctx: int | None = None,
    ) -> None:
        """`cached`: the prompt's first tokens found in the KV cache, not read again; `n_ctx`:
        the most tokens the sequence may hold (by default, `llama`'s own context)."""
        self._llama, self._params, self._emit, self._meter = llama, params, emit, meter
        self._end_logprob = end_logprob
        self._vocab = llama_cpp.llama_model_get_vocab(llama.model)
        self._assembler, self._stops = Utf8Assembler(), StopMatcher(params.stop)
        self._prompt_length = prompt_length
        self._max_new = max_new_tokens(n_ctx or llama.n_ctx(), prompt_length, params)
        self.produced = 0
        self.reason: EndReason = "length"
        self.cached = cached
        meter.prompt_tokens, meter.cached_tokens = prompt_length, cached

    def take(self, token: int, logits: Callable[[], np.ndarray[Any, Any]]) -> bool:
        """Account for one sampled token (`logits`: the row it was sampled from); True when
        the sequence is over."""
        llama, params = self._llama, self._params
        if llama_cpp.llama_vocab_is_eog(self._vocab, token):
            if params.logprobs and self._end_logprob:
                # Scorers read the entry after the prompt's own (lm-eval drops the last):
                # the end of text is a sampled token like any other.
                piece = llama.detokenize([token], special=True)
                self._emit(TextDelta("", [token_logprob(llama, token, piece, params, logits())]))
            self.reason = "stop"
            return True
        self.produced += 1
        self._meter.completion_tokens = self.produced
        piece = llama.detokenize([token])
        logprobs = [token_logprob(llama, token, piece, params, logits())] if params.logprobs else []
        text = self._stops.feed(self._assembler.feed(piece))
        if text or logprobs:
            self._emit(TextDelta(text, logprobs))
        if self._stops.stopped:
            self.reason = "stop"
            return True
        return self.produced >= self._max_new

    def finish(self) -> GenerationOutcome:
        """Emit the text still held back (unless a stop sequence ended it) and say how it went."""
        if not self._stops.stopped:
            tail = self._stops.feed(self._assembler.flush()) + self._stops.flush()
            if tail:
                self._emit(TextDelta(tail))
        return GenerationOutcome(
            self.reason, Usage(self._prompt_length, self.produced, self.cached)
        )


def _evaluate_prompt(
    llama: llama_cpp.Llama,
    prompt_tokens: list[int],
    cancel: Cancellation,
    abort: AbortSwitch | None = None,
) -> int | None:
    """Evaluate all but the prompt's last token batch by batch; how many of them the KV cache
    already held (the cached tokens), or None if cancelled (between two batches, or within one).

    `llama.generate` evaluates a prompt in one uninterruptible call: thousands of tokens (a
    task's chunk) keep the CPU busy for many seconds after the client has gone. Done here, it
    stops at the next batch; `llama.generate` then finds this prefix in the KV cache and
    evaluates only the last token (whose logits it samples from). A batch aborted half-way
    leaves `llama.n_tokens` and the KV cache at the batch's start.
    """
    cached = llama.input_ids[: llama.n_tokens]
    reused = 0
    for have, want in zip(cached, prompt_tokens, strict=False):
        if have != want:
            break
        reused += 1
    reused = min(reused, len(prompt_tokens) - 1)  # the last token is always read again
    todo = prompt_tokens[reused : len(prompt_tokens) - 1]
    if not todo:
        return reused
    llama.n_tokens = reused
    step = min(llama.n_batch, PROMPT_STEP)
    with contextlib.nullcontext() if abort is None else abort.watching([cancel]):
        for start in range(0, len(todo), step):
            if cancel.is_set():
                return None
            try:
                llama.eval(todo[start : start + step])
            except RuntimeError:  # how llama-cpp-python reports a failed `llama_decode`
                if abort is None or not abort.tripped():
                    raise
                return None
    return reused


def _free_sampler(llama: llama_cpp.Llama) -> None:
    """Free the sampler chain `llama.generate` leaves on the instance: it holds the request's
    compiled grammar, which would otherwise stay in memory until the instance's next request."""
    sampler = getattr(llama, "_sampler", None)
    llama._sampler = None
    if sampler is not None:
        sampler.close()


def max_new_tokens(n_ctx: int, prompt_length: int, params: SamplingParams) -> int:
    room = n_ctx - prompt_length
    return room if params.max_tokens is None else min(params.max_tokens, room)


def sampler_args(params: SamplingParams) -> dict[str, Any]:
    # OpenAI's semantics: only temperature and top_p shape the distribution, so llama.cpp's own
    # extra truncations (top-k 40, min-p 0.05) and its repeat penalty are switched off.
    processors = [_biased(params.logit_bias)] if params.logit_bias else None
    return {
        "logits_processor": processors,
        "temp": params.temperature,
        "top_p": params.top_p,
        "top_k": 0,
        "min_p": 0.0,
        "repeat_penalty": 1.0,
        "presence_penalty": params.presence_penalty,
        "frequency_penalty": params.frequency_penalty,
    }


def _biased(bias: tuple[tuple[int, float], ...]) -> Callable[[Any, Any], Any]:
    tokens = np.array([token for token, _ in bias], dtype=np.intc)
    values = np.array([value for _, value in bias], dtype=np.single)

    def add(_input_ids: Any, logits: Any) -> Any:
        logits[tokens] += values
        return logits

    return add


def last_logits(llama: llama_cpp.Llama) -> np.ndarray[Any, Any]:
    """The logits of the last decoded position: the ones the next token is sampled from."""
    return logits_row(llama.ctx, -1, llama.n_vocab())


def logits_row(ctx: Any, index: int, n_vocab: int) -> np.ndarray[Any, Any]:
    """Row `index` of a context's last batch (the rows asked for, in batch order)."""
    return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, index), shape=(n_vocab,))


def token_logprob(
    llama: llama_cpp.Llama,
    token: int,
    piece: bytes,
    params: SamplingParams,
    logits: np.ndarray[Any, Any],
) -> TokenLogprob:
    # The raw logits the token was sampled from: the model's distribution before temperature
    # or penalties, as in OpenAI's API.
    logprobs = log_softmax(logits)
    top: list[TopLogprob] = []
    if params.top_logprobs:
        best = np.argpartition(-logprobs, params.top_logprobs)[: params.top_logprobs]
        for candidate in sorted(best.tolist(), key=lambda t: -logprobs[t]):
            raw = llama.detokenize([candidate])
            top.append(TopLogprob(token_text(raw), float(logprobs[candidate]), list(raw)))
    return TokenLogprob(token_text(piece), float(logprobs[token]), list(piece), top)


def log_softmax(logits: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    shifted: np.ndarray[Any, np.dtype[np.float64]] = logits.astype(np.float64) - np.max(logits)
    result: np.ndarray[Any, np.dtype[np.float64]] = shifted - np.log(np.sum(np.exp(shifted)))
    return result


def token_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")
