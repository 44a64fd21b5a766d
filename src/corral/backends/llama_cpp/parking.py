"""Idle slots' cells kept in host memory: short decode steps, and prefixes reused all the same.

A slot keeps its last sequence's tokens for a prompt that continues them (a chat's next turn).
Left in the cache, those cells slow every step of the running sequences: llama.cpp's attention
in a unified cache spans every cell up to the highest in use, other sequences' masked. So when
a sequence starts, the scheduler parks the other idle slots: their cells are copied to host
memory (`llama_state_seq_get_data`) and cleared from the cache, as llama-server does by default
(`cache_idle_slots`). A prompt that continues a parked sequence further than any slot in the
cache gets the cells copied back (`llama_state_seq_set_data`; the logits after are identical to
the bit) instead of reading its tokens again. At most `limit` tokens are parked, the least
recently parked dropped first.
"""

from __future__ import annotations

import ctypes
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp


@dataclass(frozen=True, slots=True, eq=False)  # one parked copy is itself only
class Parked:
    tokens: list[int]
    adapter: Path | None
    """The adapter the cells were computed with: only its prompts may use them."""
    state: ctypes.Array[ctypes.c_ubyte]


class ParkingLot:
    """The sequences parked for one context, oldest first. Not thread-safe: used by the
    scheduler's thread only, as its context is."""

    def __init__(self, ctx: Any, limit: int) -> None:
        self._ctx = ctx
        self._limit = limit
        self._parked: deque[Parked] = deque()
        self.tokens = 0
        """Tokens parked now."""

    def park(self, slot: int, tokens: list[int], adapter: Path | None) -> None:
        """Copy `slot`'s cells (holding `tokens`) to host memory; the caller clears them."""
        if len(tokens) > self._limit:
            return
        size = llama_cpp.llama_state_seq_get_size(self._ctx, slot)
        if not size:
            return
        state = (ctypes.c_ubyte * size)()
        if llama_cpp.llama_state_seq_get_data(self._ctx, state, size, slot) != size:
            return
        self.keep(Parked(list(tokens), adapter, state))

    def keep(self, parked: Parked) -> None:
        """Park `parked` as the most recent, dropping the oldest past the limit."""
        self._parked.append(parked)
        self.tokens += len(parked.tokens)
        while self.tokens > self._limit:
            self.tokens -= len(self._parked.popleft().tokens)

    def best(self, prompt: list[int], adapter: Path | None) -> tuple[Parked | None, int]:
        """The parked sequence sharing the longest prefix with `prompt`, and that length."""
        found, longest = None, 0
        for parked in self._parked:
            if parked.adapter == adapter:
                length = shared_prefix(parked.tokens, prompt)
                if length > longest:
                    found, longest = parked, length
        return found, longest

    def take(self, parked: Parked) -> None:
        """Take `parked` out of the lot, to be restored."""
        self._parked.remove(parked)
        self.tokens -= len(parked.tokens)

    def restore(self, parked: Parked, slot: int) -> bool:
        """Copy `parked` (taken out first) back into the cache as `slot`'s cells, the slot
        emptied first by llama.cpp; False when llama.cpp found no room for them."""
        size = len(parked.state)
        read: int = llama_cpp.llama_state_seq_set_data(self._ctx, parked.state, size, slot)
        return read == size


def shared_prefix(cached: list[int], prompt: list[int]) -> int:
    """How many first tokens `cached` and `prompt` have in common."""
    limit = min(len(cached), len(prompt))
    if cached[:limit] == prompt[:limit]:
        return limit
    shared = 0
    while cached[shared] == prompt[shared]:
        shared += 1
    return shared
