"""Which cells of a unified KV cache each slot holds, counted on our side.

llama.cpp's public API does not say how many cells are in use, and a `llama_decode` that finds
no room is no safe signal: before giving up it rearranges the cache, and sequences decoded
after that were measured to write other text than alone. So the scheduler checks for room
before each decode, with this ledger: every cell has an id, a slot holds a list of them by
position, and a cell is in use while some slot holds it (`llama_memory_seq_cp` in one stream
adds a holder to the source's cells instead of copying them).
"""

from __future__ import annotations


class CellLedger:
    def __init__(self, slots: int) -> None:
        self._held: list[list[int]] = [[] for _ in range(slots)]
        """Per slot, the ids of its cells, by position."""
        self._holders: dict[int, int] = {}
        """Per cell in use, how many slots hold it."""
        self._next = 0

    @property
    def used(self) -> int:
        return len(self._holders)

    def add(self, slot: int, count: int) -> None:
        """`count` new cells for the next positions of `slot`."""
        fresh = range(self._next, self._next + count)
        self._next += count
        self._held[slot].extend(fresh)
        self._holders.update(dict.fromkeys(fresh, 1))

    def share(self, source: int, slot: int, count: int) -> None:
        """`slot`, emptied first, holds the first `count` cells of `source` too."""
        self.drop(slot, 0)
        shared = self._held[source][:count]
        self._held[slot] = list(shared)
        for cell in shared:
            self._holders[cell] += 1

    def drop(self, slot: int, keep: int) -> None:
        """`slot` lets go of its cells from position `keep` on."""
        for cell in self._held[slot][keep:]:
            left = self._holders[cell] - 1
            if left:
                self._holders[cell] = left
            else:
                del self._holders[cell]
        del self._held[slot][keep:]
