"""The LoRA adapters of a batched instance, and which adapter's sequences each step decodes.

llama.cpp applies adapters per context, so one decode cannot mix them: each step of the
`Scheduler` decodes the sequences (their next tokens and prompt chunks) of one adapter only, its
group (None: the base), and the batched context's adapter is set when the group changes. Setting
it changes only the adapter list of the next graph, not the KV cache: each slot's cells were all
computed under its own sequence's adapter, and the scheduler shares cells only between slots of
the same adapter.

Policy: groups take turns, round robin among the adapters that have active sequences (the one
served least recently goes next), so a base user and a fine-tuned user both progress. What it
costs: with two groups each sequence gets about half the steps, so its tokens/s halves, while
the steps themselves are smaller (fewer rows each); with one group (every request on the base,
or on one adapter) nothing changes. A switch is not free: llama.cpp then re-reserves the
context's compute graph at the next decode (`sched_need_reserve`), measured at 6.8 CPU ms on
SmolLM2-135M with one thread, where a one-token step takes 11.4 (`bench/adapters_batched.py`);
it does not grow with the model's weights, so it weighs less on larger models. Four streams on
four adapters then make 0.53x the tokens/s of four on the base.

Adapters are loaded once for the model; past `max_adapters` the least recently used are freed,
never one a running sequence or the context still uses. `echo` scoring runs in the batched
context too, between two steps, with its request's adapter (`Scheduler.score_with`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from corral.backends.llama_cpp.adapters import ContextAdapter, LoadedAdapters


class AdapterGroups:
    def __init__(self, llama: Any, batch_ctx: Any, limit: int = 8) -> None:
        self.loaded = LoadedAdapters(llama, limit)
        self.batch = ContextAdapter(batch_ctx, self.loaded)
        """The batched context's adapter: the group of the last step."""
        self.switches = 0
        """Steps whose group differed from the step before."""
        self._served: dict[Path | None, int] = {}
        """Per group with active sequences, the turn it was last served at."""
        self._turn = 0

    def admit(self, adapter: Path | None, running: Iterable[Path | None]) -> None:
        """Load `adapter` for a sequence or job about to run with it (`BackendFailed` if it
        cannot be), then free what nothing runs with past the limit."""
        if adapter is not None:
            self.loaded.handle(adapter)
        self.loaded.evict({adapter, self.batch.current, *running})

    def next_group(self, running: Iterable[Path | None]) -> Path | None:
        """The adapter the next step decodes, among those of the running sequences (at least
        one): the least recently served. The batched context is set to it."""
        groups = dict.fromkeys(running)
        group = min(groups, key=lambda adapter: self._served.get(adapter, -1))
        self._turn += 1
        self._served = {a: turn for a, turn in self._served.items() if a in groups}
        self._served[group] = self._turn
        if self.batch.use(group):
            self.switches += 1
        return group
