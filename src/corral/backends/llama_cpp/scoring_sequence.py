"""Prompt scoring (`echo`) inside a batched context: the `Scheduler`'s last sequence, which
no request generates in, as a `scoring.Target`. Its cells stay after a job, like an idle slot's
(the next option of a multiple-choice item re-reads only its own tokens), and are dropped like
one when the cache needs room; they are the scheduler's (`slot_cache.SlotCache`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import llama_cpp
import numpy as np

from corral.backends.llama_cpp import scoring
from corral.backends.llama_cpp.engine import PROMPT_STEP
from corral.errors import KVCacheFull

if TYPE_CHECKING:
    from corral.backends.llama_cpp.scheduler import Scheduler


class ScoringSequence:
    """The context's last sequence, as a `scoring.Target`: decodes with a row of logits for
    every token, making room as a step does (or failing with `KVCacheFull`)."""

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler
        self._slot = scheduler.slots
        self.step = min(PROMPT_STEP, scheduler.capacity)

    def held(self) -> list[int]:
        return list(self._scheduler.cache.cached[self._slot])

    def keep(self, count: int) -> None:
        self._scheduler.cache.forget(self._slot, count)

    def decode_all(self, batch: list[int]) -> np.ndarray:
        run, slot = self._scheduler, self._slot
        cache = run.cache
        while not cache.fits(len(batch)):
            if not cache.free_idle(run.busy, spare=slot):
                run.stats.cache_was_full()
                raise KVCacheFull(
                    f"The model's KV cache ({run.kv_cells} cells) is full. Retry later, or "
                    "send a shorter prompt."
                )
        cache.take(slot)
        start = len(cache.cached[slot])
        for offset, token in enumerate(batch):
            run.batch.token[offset] = token
            run.batch.pos[offset] = start + offset
            run.batch.n_seq_id[offset] = 1
            run.batch.seq_id[offset][0] = slot
            run.batch.logits[offset] = True
        run.batch.n_tokens = len(batch)
        status = llama_cpp.llama_decode(run.ctx.ctx, run.batch)
        if status != 0:
            cache.forget(slot, start)  # whatever of the batch reached the cache
            raise RuntimeError(f"llama_decode returned {status}")
        cache.cached[slot].extend(batch)
        cache.cells.add(slot, len(batch))
        return scoring.logit_rows(run.ctx.ctx, len(batch), run.n_vocab)
