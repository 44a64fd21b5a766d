"""Continuous batching: one llama.cpp context decoding every active sequence at each step.

A `Scheduler` owns a thread and a context with `slots` sequences (llama.cpp's `n_seq_max`).
Every step it puts into one `llama_batch` the next token of every sequence that is generating
and chunks of the prompts still being read, decodes once, and lets each sequence sample from
its own row of logits. Sequences join and leave between steps.

Prompt reading is capped at `prompt_tokens_per_step` tokens per step (default `PROMPT_BUDGET`),
shared by the prompts being read: a long new prompt delays the others' next token by one step of
that size at most, instead of by its whole length.

The KV cache is unified: all slots share one cache of `kv_cells` cells, and each sequence may
use up to the model's whole context (`llama.n_ctx()`) of it. A slot keeps its tokens after a
sequence finishes until another starts, which parks them in host memory (`parking.py`): a new
prompt takes the free slot or parked tokens sharing the longest prefix with it (the next turn
of a chat re-reads only the new messages; `slot_cache.py` keeps what each slot holds). Before
each decode the scheduler checks that the cache has a free cell for every token of the step
(`cells.CellLedger`); when not, idle slots' cells are dropped, and then the most recently
started sequence fails with `KVCacheFull` (503): the sequences that came first finish rather
than all waiting for room (docs/limits.md).

Prefixes are shared across slots too: when another slot, busy or idle, holds a longer prefix of
a new prompt (the system prompt every request of an application starts with), its cells are
given to the new sequence too (`llama_memory_seq_cp`) instead of being computed again. In a
unified cache this copies nothing: the cells are marked as belonging to both sequences, so a
prefix shared by eight requests is held once. The tokens a prompt did not have to read are its
`cached_tokens`.

Fine-tuned models run on the same context: each step decodes the sequences of one LoRA adapter
(None: the base), the groups taking turns (`adapter_groups.py`: the policy and its cost). Each
slot records the adapter its cells were computed with, and a prompt reuses or shares only cells
of its own adapter.

Jobs that need the model alone run between two steps, through `call`. Prompt scoring for
`echo` is one: it decodes in this context too, with its request's adapter (`score_with`), as
one more sequence (`scoring_sequence.py`), so the instance's own context is never used and is
opened with a few cells only.

A step that reads prompt tokens stops half-way when one of those prompts is cancelled or the
scheduler closes (`abort.AbortSwitch`): the step's tokens are taken out of the cache, the
cancelled sequences end and the others are fed the same tokens again at the next step.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Container
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import llama_cpp
from llama_cpp import _internals

from corral.backends.llama_cpp.abort import ABORTED, AbortSwitch
from corral.backends.llama_cpp.adapter_groups import AdapterGroups
from corral.backends.llama_cpp.scoring_sequence import ScoringSequence
from corral.backends.llama_cpp.sequence import Sequence
from corral.backends.llama_cpp.slot_cache import SlotCache
from corral.backends.llama_cpp.stats import EngineStats
from corral.errors import KVCacheFull

T = TypeVar("T")

PROMPT_BUDGET = 256
"""Prompt tokens read per step, all new prompts together: what one step may add to the wait
for the next token of the sequences already generating."""

KV_CELLS = 16384
"""Cells of the shared cache when the settings name none (raised to the context if longer)."""


class Scheduler:
    def __init__(
        self,
        llama: llama_cpp.Llama,
        slots: int,
        stats: EngineStats | None = None,
        kv_cells: int | None = None,
        prompt_budget: int = PROMPT_BUDGET,
        context_length: int | None = None,
        max_adapters: int = 8,
    ) -> None:
        """`context_length`: the most tokens one sequence may hold, by default `llama`'s own
        context (whose cells then go unused: open it small and say how long here)."""
        self.llama = llama
        self.slots = slots
        self.stats = stats if stats is not None else EngineStats()
        self._n_ctx = context_length or llama.n_ctx()
        self.n_vocab = llama.n_vocab()
        self.kv_cells = kv_cells or max(KV_CELLS, self._n_ctx)
        if self.kv_cells < self._n_ctx:
            raise ValueError(f"kv_cells ({self.kv_cells}) is below the context ({self._n_ctx})")
        self.prompt_budget = prompt_budget
        params = llama_cpp.llama_context_params.from_buffer_copy(llama.context_params)
        params.n_seq_max = slots + 1  # the last one scores prompts
        params.n_ctx = self.kv_cells
        params.kv_unified = True
        self.capacity = slots + prompt_budget
        params.n_batch = max(params.n_batch, self.capacity)
        params.n_ubatch = max(params.n_ubatch, min(self.capacity, 512))
        self.ctx = _internals.LlamaContext(model=llama._model, params=params, verbose=False)
        self.abort = AbortSwitch(self.ctx.ctx)
        """Also for the jobs run through `call` that decode in this context."""
        self.batch = llama_cpp.llama_batch_init(self.capacity, 0, 1)
        self.cache = SlotCache(self.ctx.ctx, self.ctx.memory, slots + 1, self.kv_cells, self.stats)
        """The slots' cells (the scoring sequence's last) and where a new prompt goes."""
        self.adapters = AdapterGroups(llama, self.ctx.ctx, max_adapters)
        self._active: dict[int, Sequence] = {}
        self._waiting: deque[Sequence] = deque()
        self._jobs: deque[tuple[Callable[[], Any], Future[Any]]] = deque()
        self._wake = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="llama-batch", daemon=True)
        self._thread.start()

    # -- called from other threads ---------------------------------------------------------

    def submit(self, sequence: Sequence) -> Future[Any]:
        with self._wake:
            if self._closing:
                raise RuntimeError("the scheduler is closed")
            self._waiting.append(sequence)
            self._wake.notify()
        return sequence.future

    def call(self, job: Callable[[], T]) -> Future[T]:
        """Run `job` on the scheduler's thread between two steps, with the model to itself."""
        future: Future[T] = Future()
        with self._wake:
            if self._closing:
                raise RuntimeError("the scheduler is closed")
            self._jobs.append((job, future))
            self._wake.notify()
        return future

    def close(self) -> None:
        with self._wake:
            self._closing = True
            self._wake.notify()
        self.abort.close()  # a long prompt's decode under way ends now, not in seconds
        self._thread.join()
        llama_cpp.llama_batch_free(self.batch)
        self.ctx.close()  # type: ignore[no-untyped-call]

    # -- the scheduler's thread --------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._wake:
                while not (self._closing or self._waiting or self._jobs or self._active):
                    self._wake.wait()
                if self._closing:
                    break
                jobs, self._jobs = list(self._jobs), deque()
            for job, future in jobs:
                _run_job(job, future)
            try:
                self._admit()
                if self._active:
                    self._step()
            except Exception as exc:  # never leave a caller waiting on a dead thread
                self._fail_all(exc)
        for sequence in [*self._active.values(), *self._waiting]:
            sequence.end(RuntimeError("the model was unloaded"))
        for _, future in self._jobs:
            future.cancel()

    def _admit(self) -> None:
        with self._wake:
            while self._waiting and len(self._active) < self.slots:
                sequence = self._waiting.popleft()
                if sequence.cancel.is_set():  # the client left while it waited
                    sequence.end()
                    continue
                self._start(sequence)

    def _start(self, sequence: Sequence) -> None:
        try:
            self.adapters.admit(sequence.adapter, self._running())
        except Exception as exc:  # its adapter's file is gone, or llama.cpp refused it
            sequence.end(exc)
            return
        cache = self.cache
        slot, reused = cache.place(sequence.prompt, sequence.adapter, self._active)
        # At least the prompt's last token is read again: its logits are the first sample's.
        reused = min(reused, len(sequence.prompt) - 1)
        cache.forget(slot, reused)
        cache.park_idle(slot, self._active)
        cache.adapter[slot] = sequence.adapter
        cache.take(slot)
        self._active[slot] = sequence
        self.stats.started()
        self.stats.hit(reused)
        try:
            sequence.start(self.llama, slot, reused, self._n_ctx)
        except Exception as exc:  # a grammar llama.cpp refuses, for one
            self._finish(sequence, exc)

    def _step(self) -> None:
        rows: list[tuple[int, Sequence]] = []  # (batch index, sequence) of the logits asked
        batch = self.batch
        n = 0
        for sequence in list(self._active.values()):
            if sequence.cancel.is_set():
                sequence.cancelled_now()
                self._finish(sequence)
        if not self._active:
            return
        group = self.adapters.next_group(self._running())
        step = [sequence for sequence in self._active.values() if sequence.adapter == group]
        for sequence in step:  # generating: one token each
            if not sequence.prefilling:
                rows.append((n, sequence))
                n = self._put(n, sequence, sequence.next_token or 0, True)
        budget = self.prompt_budget
        reading: list[Sequence] = []
        for sequence in step:  # reading a prompt: chunks, in turn
            if not sequence.prefilling or sequence.cancel.is_set() or budget == 0:
                continue
            reading.append(sequence)
            chunk = sequence.prompt_chunk(budget)
            budget -= len(chunk)
            last = sequence.position + len(chunk) == len(sequence.prompt)
            for offset, token in enumerate(chunk):
                n = self._put(n, sequence, token, last and offset == len(chunk) - 1, offset)
            if last:
                rows.append((n - 1, sequence))
        if n == 0:
            return
        if not self.cache.fits(n):
            self._make_room()
            return
        batch.n_tokens = n
        # One-token steps are short, and the callback would cost each of them a trip per node.
        watch = [s.cancel for s in reading]
        with self.abort.watching(watch) if reading else contextlib.nullcontext():
            status = llama_cpp.llama_decode(self.ctx.ctx, batch)
        if status == ABORTED:
            self._undo_step()
            return
        if status != 0:
            self._fail_all(RuntimeError(f"llama_decode returned {status}"))
            return
        self.stats.stepped(n)
        self._after_decode(rows)

    def _put(self, n: int, sequence: Sequence, token: int, logits: bool, offset: int = 0) -> int:
        batch = self.batch
        batch.token[n] = token
        batch.pos[n] = sequence.position + offset
        batch.n_seq_id[n] = 1
        batch.seq_id[n][0] = sequence.slot
        batch.logits[n] = logits
        self.cache.cached[sequence.slot].append(token)
        return n + 1

    def _after_decode(self, rows: list[tuple[int, Sequence]]) -> None:
        for sequence in list(self._active.values()):  # positions advance by what was fed
            count = len(self.cache.cached[sequence.slot]) - sequence.position
            self.cache.cells.add(sequence.slot, count)
            sequence.fed(count)
        over = []
        for row, sequence in rows:
            try:
                if sequence.sample(self.ctx, row, self.n_vocab):
                    over.append(sequence)
            except Exception as exc:  # llama.cpp failures surface as several builtin types
                self._finish(sequence, exc)
        # The step's tokens go to their streams once all are sampled: a stream's thread woken
        # by each would take the interpreter lock from the sampling of the others.
        for _, sequence in rows:
            sequence.flush()
        for sequence in over:
            self._finish(sequence)

    def _undo_step(self) -> None:
        """The decode was stopped half-way: take the step's tokens out of the cache (llama.cpp
        removed only the unfinished micro-batch's) and end the cancelled sequences."""
        for slot, sequence in list(self._active.items()):
            self.cache.forget(slot, sequence.position)
            if sequence.cancel.is_set():
                sequence.cancelled_now()
                self._finish(sequence)

    def _make_room(self) -> None:
        """The step does not fit: take back what it queued, then free the cells of one finished
        slot or, when none holds any, end the youngest sequence (the next step tries again)."""
        for slot, sequence in self._active.items():
            del self.cache.cached[slot][sequence.position :]
        if self.cache.free_idle(self._active):
            return
        youngest = self.cache.youngest(list(self._active))
        self.stats.cache_was_full()
        self._finish(
            self._active[youngest],
            KVCacheFull(
                f"The model's KV cache ({self.kv_cells} cells shared by {self.slots} sequences) "
                "is full. Retry later, or send a shorter conversation."
            ),
        )

    @property
    def busy(self) -> Container[int]:
        """The slots a sequence is generating in."""
        return self._active.keys()

    def scoring_target(self) -> ScoringSequence:
        """The sequence `echo` prompts are scored in, for a job run through `call`."""
        return ScoringSequence(self)

    def score_with(self, adapter: Path | None) -> bool:
        """In a job (`call`): score with `adapter`. True when the scoring sequence's cells were
        computed under another adapter, and so were forgotten."""
        self.adapters.admit(adapter, self._running())
        self.adapters.batch.use(adapter)  # the next step sets its own group again
        if self.cache.adapter[self.slots] == adapter:
            return False
        self.cache.forget(self.slots, 0)
        self.cache.adapter[self.slots] = adapter
        return True

    def _running(self) -> list[Path | None]:
        """The adapters of the active sequences, in the order they started."""
        return [sequence.adapter for sequence in self._active.values()]

    def _finish(self, sequence: Sequence, error: BaseException | None = None) -> None:
        if self._active.pop(sequence.slot, None) is not None:
            self.stats.ended()
        if error is not None or sequence.cancel.is_set():
            self.cache.forget(sequence.slot, 0)
        sequence.end(error)

    def _fail_all(self, error: BaseException) -> None:
        for sequence in list(self._active.values()):
            self._finish(sequence, error)


def _run_job(job: Callable[[], Any], future: Future[Any]) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(job())
    except BaseException as exc:  # the caller's future carries it
        future.set_exception(exc)
