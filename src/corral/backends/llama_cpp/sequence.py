"""One generation as the batch scheduler drives it: a small state machine per sequence.

A `Sequence` is first fed its prompt in chunks, then one token per step; after each step that
asked for its logits it samples with its own sampler chain (temperature, top_p, penalties, seed,
`logit_bias`, grammar: the chain `llama.generate` would build) and hands the token to the same
`engine.Output` the single-sequence loop uses, so counting, stop sequences, UTF-8 assembly and
logprobs are one piece of code for both.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import llama_cpp
from llama_cpp.llama_grammar import LlamaGrammar

from corral.backends.base import SamplingParams, TextDelta, Usage, UsageMeter
from corral.backends.llama_cpp import engine
from corral.cancellation import Cancellation


class Sequence:
    """A request's prompt, its place in the shared context, and what it has produced."""

    def __init__(
        self,
        prompt: list[int],
        params: SamplingParams,
        grammar: LlamaGrammar | None,
        cancel: Cancellation,
        emit: Callable[[TextDelta], None],
        meter: UsageMeter,
        end_logprob: bool = False,
        adapter: Path | None = None,
    ) -> None:
        self.prompt, self.params, self.grammar = prompt, params, grammar
        self.adapter = adapter
        """The LoRA adapter it runs with (None: the base): it is decoded only in steps of that
        adapter's group, and shares cached cells only with sequences of the same adapter."""
        self.cancel, self.emit, self.meter = cancel, emit, meter
        self.end_logprob = end_logprob
        self.future: Future[engine.GenerationOutcome] = Future()
        self.slot = -1
        self.position = 0
        """Tokens of this sequence in the KV cache: the next one goes at this position."""
        self.next_token: int | None = None
        """The last sampled token, fed at the next step (None while the prompt is fed)."""
        self._sampler: Any = None
        self._output: engine.Output | None = None
        self._made: list[TextDelta] = []
        """Text sampled at this step, handed to `emit` by `flush` once the step is done."""

    def start(self, llama: llama_cpp.Llama, slot: int, reused: int, n_ctx: int) -> None:
        """Take `slot`, whose cache already holds the first `reused` prompt tokens; the
        sequence may hold `n_ctx` tokens."""
        self.slot, self.position = slot, reused
        # `_init_sampler` builds exactly the chain `llama.generate` builds for one sequence;
        # it reads the seed from the instance, and only the scheduler's thread touches both.
        seed = self.params.seed if self.params.seed is not None else random.getrandbits(31)
        llama.set_seed(seed)
        self._sampler = llama._init_sampler(
            grammar=self.grammar, **engine.sampler_args(self.params)
        )
        self._output = engine.Output(
            llama,
            len(self.prompt),
            self.params,
            self._made.append,
            self.meter,
            self.end_logprob,
            reused,
            n_ctx,
        )

    @property
    def prefilling(self) -> bool:
        return self.next_token is None

    def prompt_chunk(self, budget: int) -> list[int]:
        """The next prompt tokens to feed, at most `budget`."""
        return self.prompt[self.position : self.position + budget]

    def fed(self, count: int) -> None:
        self.position += count

    def sample(self, ctx: Any, row: int, n_vocab: int) -> bool:
        """Sample from batch row `row`; True when the sequence is over."""
        assert self._output is not None
        if self.cancel.is_set():
            self._output.reason = "cancelled"
            return True
        token: int = self._sampler.sample(ctx, row)
        if self._output.take(token, lambda: engine.logits_row(ctx.ctx, row, n_vocab)):
            return True
        self.next_token = token
        return False

    def flush(self) -> None:
        """Hand what the last step made to the caller."""
        for delta in self._made:
            self.emit(delta)
        self._made.clear()  # the list itself: `Output` appends to it

    def end(self, error: BaseException | None = None) -> None:
        """Hand over what is left, free the sampler (it holds the compiled grammar) and
        resolve the caller's future."""
        self.flush()
        if self._sampler is not None:
            self._sampler.close()
            self._sampler = None
        if self.future.done():
            return
        if error is not None:
            self.future.set_exception(error)
        elif self._output is None:  # cancelled before it started: nothing was used
            self.future.set_result(engine.GenerationOutcome("cancelled", Usage(0, 0)))
        elif self.prefilling and self._output.reason == "cancelled":
            usage = Usage(len(self.prompt), 0, self._output.cached)
            self.future.set_result(engine.GenerationOutcome("cancelled", usage))
        else:
            self.future.set_result(self._output.finish())

    def cancelled_now(self) -> None:
        if self._output is not None:
            self._output.reason = "cancelled"
