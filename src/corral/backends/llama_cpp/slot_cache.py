"""The slots of a batched context and their cells: what each holds, and where a prompt goes.

Every slot (a llama.cpp sequence id) remembers the tokens its cells hold, the adapter they were
computed with and when a sequence last took it. A new prompt goes to the free slot, or to the
parked tokens (`parking.py`), sharing the longest prefix with it; a prefix held by another
slot, busy or idle, is shared with it (`llama_memory_seq_cp`: in a unified cache the cells get a
second holder, nothing is copied). The cells in use are counted on our side (`cells.py`), so the
scheduler can check for room before each decode. Used by the scheduler's thread only.
"""

from __future__ import annotations

from collections.abc import Container
from pathlib import Path
from typing import Any

import llama_cpp

from corral.backends.llama_cpp.cells import CellLedger
from corral.backends.llama_cpp.parking import Parked, ParkingLot, shared_prefix
from corral.backends.llama_cpp.stats import EngineStats

COPY_MIN = 16
"""Prompt tokens sharing another slot's cells must save to be done. Sharing costs nothing in a
unified cache; the bar keeps tiny common prefixes (a chat template's first tokens) from tying
slots' cells together for a saving of microseconds."""


class SlotCache:
    """`count` slots sharing `kv_cells` cells of the context `ctx` (the raw context and its
    memory); the last slot is the scoring sequence's, which no prompt is placed in."""

    def __init__(
        self, ctx: Any, memory: Any, count: int, kv_cells: int, stats: EngineStats
    ) -> None:
        self._memory = memory
        self._stats = stats
        self.kv_cells = kv_cells
        self.cached: list[list[int]] = [[] for _ in range(count)]
        """Per slot, the tokens its cells hold."""
        self.adapter: list[Path | None] = [None] * count
        """Per slot, the adapter its cells were computed with."""
        self._used = [0] * count
        """Per slot, when a sequence last took it (a count of takes): the least recently used
        free slot is the one whose cache a new prompt overwrites."""
        self._takes = 0
        self.cells = CellLedger(count)
        self.parking = ParkingLot(ctx, kv_cells // 2)

    def fits(self, tokens: int) -> bool:
        """Whether `tokens` more cells fit in the cache."""
        return self.cells.used + tokens <= self.kv_cells

    def take(self, slot: int) -> None:
        """A sequence (or a scoring job) starts in `slot`: it is now the most recently used."""
        self._takes += 1
        self._used[slot] = self._takes

    def youngest(self, slots: list[int]) -> int:
        """The one of `slots` taken last."""
        return max(slots, key=lambda s: self._used[s])

    def place(
        self, prompt: list[int], adapter: Path | None, busy: Container[int]
    ) -> tuple[int, int]:
        """The free slot (not in `busy`) for `prompt` and how many of its first tokens that
        slot's cells hold, after copying them from another slot or from parking when that
        saves enough; only cells computed with `adapter` count."""
        free = [slot for slot in range(len(self.cached) - 1) if slot not in busy]
        shared = [
            shared_prefix(cached, prompt) if self.adapter[slot] == adapter else 0
            for slot, cached in enumerate(self.cached)
        ]
        # The longest own prefix; among equals (none at all, say) the least recently used slot.
        slot = max(free, key=lambda s: (shared[s], -self._used[s]))
        source = max(range(len(shared)), key=lambda s: shared[s])
        parked, unparked = self.parking.best(prompt, adapter)
        gain = min(unparked, len(prompt) - 1) - max(shared[slot], shared[source])
        if parked is not None and gain >= COPY_MIN:
            # An empty slot if there is one, else the least recently used: its cells are parked.
            emptiest = min(free, key=lambda s: (len(self.cached[s]) > 0, self._used[s]))
            return self._unpark(parked, emptiest, unparked)
        saved = min(shared[source], len(prompt) - 1) - shared[slot]
        if saved < COPY_MIN:
            return slot, shared[slot]
        if shared[slot] == 0:  # its own cache is of no use here: overwrite the stalest one
            slot = min(free, key=lambda s: self._used[s])
        # In one stream, seq_cp adds `slot` to the source's cells: the slot's own must go first.
        self.forget(slot, 0)
        llama_cpp.llama_memory_seq_cp(self._memory, source, slot, 0, shared[source])
        self.cells.share(source, slot, shared[source])
        self._stats.copied()
        self.cached[slot] = self.cached[source][: shared[source]]
        return slot, shared[source]

    def park_idle(self, taken: int, busy: Container[int]) -> None:
        """Park every idle slot but `taken`."""
        for slot in range(len(self.cached) - 1):
            if slot != taken and slot not in busy:
                self._park(slot)

    def _park(self, slot: int) -> None:
        """Move an idle slot's cells to host memory (`parking.py`)."""
        if self.cached[slot]:
            self.parking.park(slot, self.cached[slot], self.adapter[slot])
            self.forget(slot, 0)

    def _unpark(self, parked: Parked, slot: int, shared: int) -> tuple[int, int]:
        """`slot` (its own cells parked) holding the cells of `parked` again, and how many of
        the prompt's first tokens they are: none when the cache has no room for them."""
        self.parking.take(parked)
        self._park(slot)
        if not self.fits(len(parked.tokens)):
            self.parking.keep(parked)
            return slot, 0
        if not self.parking.restore(parked, slot):
            self.forget(slot, 0)
            return slot, 0
        self.cells.add(slot, len(parked.tokens))
        self.cached[slot] = list(parked.tokens)
        self._stats.unparked()
        return slot, shared

    def forget(self, slot: int, keep: int) -> None:
        """Remove a slot's cells from position `keep` on."""
        llama_cpp.llama_memory_seq_rm(self._memory, slot, keep, -1)
        del self.cached[slot][keep:]
        self.cells.drop(slot, keep)

    def free_idle(self, busy: Container[int], spare: int = -1) -> bool:
        """Drop the cells of the least recently used slot that is not `busy` (nor `spare`);
        False when none holds any."""
        idle = [
            s for s, cached in enumerate(self.cached) if s not in busy and s != spare and cached
        ]
        if idle:
            self.forget(min(idle, key=lambda s: self._used[s]), 0)
        return bool(idle)
