"""A batched instance as the pool sees it: `slots` lanes over one scheduler.

The pool keeps lending whole things, which keeps its queue bound, its turns between tenants
and `max_per_tenant` unchanged; with batching each thing lent is a lane, the right to one of
the scheduler's sequences. The first lane loaded opens the model; the others share it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import llama_cpp

from corral.backends.llama_cpp import scoring
from corral.backends.llama_cpp.abort import AbortSwitch
from corral.backends.llama_cpp.engine import GenerationOutcome
from corral.backends.llama_cpp.scheduler import PROMPT_BUDGET, Scheduler
from corral.backends.llama_cpp.sequence import Sequence
from corral.backends.llama_cpp.stats import EngineStats
from corral.errors import CorralError


@dataclass(eq=False, slots=True)
class Lane:
    scheduler: Scheduler
    scores: scoring.PromptScores
    """Of the scheduler's scoring sequence, where `echo` scoring runs (shared by all lanes)."""

    @property
    def llama(self) -> llama_cpp.Llama:
        return self.scheduler.llama

    def use_adapter(self, adapter: Path | None, limit: int = 8) -> None:
        """In a job: score with `adapter` (None: the base); a switch forgets the scores kept,
        computed under the other adapter. (`limit` is the scheduler's, set when the lanes were
        loaded.)"""
        if self.scheduler.score_with(adapter):
            self.scores.tokens, self.scores.entries = [], []  # shared by all lanes: in place

    @property
    def abort(self) -> AbortSwitch:
        return self.scheduler.abort

    def run(
        self,
        first: Callable[[], GenerationOutcome | None],
        sequence: Sequence,
        failed: Callable[[Exception], Exception],
    ) -> Future[GenerationOutcome]:
        """`first` (scoring the prompt) on the scheduler's turn for jobs, then `sequence`
        unless `first` returned the request's outcome."""
        answer: Future[GenerationOutcome] = Future()

        def then(done: Future[GenerationOutcome | None]) -> None:
            if done.cancelled():  # the scheduler closed before its turn
                answer.set_exception(failed(RuntimeError("the model was unloaded")))
            elif (error := done.exception()) is not None:
                answer.set_exception(error)
            elif (outcome := done.result()) is not None:
                answer.set_result(outcome)
            else:
                try:
                    queued = self.submit(sequence, failed)
                except RuntimeError as exc:  # closed meanwhile
                    answer.set_exception(failed(exc))
                    return
                queued.add_done_callback(lambda ran: _copy(ran, answer))

        self.scheduler.call(first).add_done_callback(then)
        return answer

    def submit(
        self, sequence: Sequence, failed: Callable[[Exception], Exception]
    ) -> Future[GenerationOutcome]:
        """Queue `sequence` for the next step; its future fails with `failed(error)`."""
        answer: Future[GenerationOutcome] = Future()

        def relay(done: Future[GenerationOutcome]) -> None:
            error = done.exception()
            if isinstance(error, CorralError):  # meant for the client as it is
                answer.set_exception(error)
            elif isinstance(error, Exception):
                answer.set_exception(failed(error))
            elif error is not None:
                answer.set_exception(error)
            else:
                answer.set_result(done.result())

        self.scheduler.submit(sequence).add_done_callback(relay)
        return answer


def _copy(done: Future[GenerationOutcome], answer: Future[GenerationOutcome]) -> None:
    error = done.exception()
    if error is not None:
        answer.set_exception(error)
    else:
        answer.set_result(done.result())


@dataclass(slots=True)
class Lanes:
    """Loads lanes for the pool: the model once, then one more lane over it per call."""

    open_llama: Callable[[], Awaitable[llama_cpp.Llama]]
    slots: int
    stats: EngineStats = field(default_factory=EngineStats)
    kv_cells: int | None = None
    prompt_budget: int = PROMPT_BUDGET
    context_length: int | None = None
    """The most tokens one sequence may hold (None: the context `open_llama` opened)."""
    max_adapters: int = 8
    _scheduler: Scheduler | None = None
    _scores: scoring.PromptScores = field(default_factory=scoring.PromptScores)
    _opening: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def load(self) -> Lane:
        async with self._opening:
            if self._scheduler is None:
                llama = await self.open_llama()
                self._scheduler = await asyncio.to_thread(
                    Scheduler,
                    llama,
                    self.slots,
                    self.stats,
                    self.kv_cells,
                    self.prompt_budget,
                    context_length=self.context_length,
                    max_adapters=self.max_adapters,
                )
        return Lane(self._scheduler, self._scores)

    def close(self) -> None:
        if self._scheduler is not None:
            self._scheduler.close()
            self._scheduler.llama.close()
            self._scheduler = None
