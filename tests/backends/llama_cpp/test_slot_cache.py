"""Where a new prompt goes: the slot holding its longest prefix, shared cells counted once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import pytest

from corral.backends.llama_cpp.scheduler import Scheduler
from corral.backends.llama_cpp.slot_cache import COPY_MIN, SlotCache

PROMPT = list(range(100, 160))
SHARED = 40


@pytest.fixture
def scheduler(llama: llama_cpp.Llama) -> Iterator[Scheduler]:
    running = Scheduler(llama, 3, kv_cells=512, context_length=256)
    yield running
    running.close()


def holding(cache: SlotCache, slot: int, tokens: list[int]) -> None:
    """As if `slot` had read `tokens` (the ledger only: its cells are never decoded here)."""
    cache.cached[slot] = list(tokens)
    cache.cells.add(slot, len(tokens))


def test_a_prompt_goes_to_the_idle_slot_that_holds_its_longest_prefix(
    scheduler: Scheduler,
) -> None:
    cache = scheduler.cache
    holding(cache, 0, [7] * 30)
    holding(cache, 1, [*PROMPT[:SHARED], 1, 2, 3])

    assert cache.place(PROMPT, None, busy=()) == (1, SHARED)


def test_a_prefix_held_by_a_busy_slot_is_shared_and_its_cells_counted_once(
    scheduler: Scheduler,
) -> None:
    cache = scheduler.cache
    holding(cache, 0, PROMPT[:SHARED])

    slot, reused = cache.place(PROMPT, None, busy={0})

    assert (slot != 0, reused) == (True, SHARED)
    assert cache.cached[slot] == PROMPT[:SHARED]
    assert cache.cells.used == SHARED
    assert scheduler.stats.prefix_copies == 1


def test_a_tiny_common_prefix_is_not_worth_sharing(scheduler: Scheduler) -> None:
    cache = scheduler.cache
    holding(cache, 0, PROMPT[: COPY_MIN - 1])

    _, reused = cache.place(PROMPT, None, busy={0})

    assert reused == 0 and cache.cells.used == COPY_MIN - 1
    assert scheduler.stats.prefix_copies == 0


def test_cells_computed_with_another_adapter_are_never_reused(scheduler: Scheduler) -> None:
    cache = scheduler.cache
    holding(cache, 1, PROMPT[:SHARED])
    cache.adapter[1] = Path("support-bot.gguf")

    assert cache.place(PROMPT, None, busy=())[1] == 0
    assert cache.place(PROMPT, Path("support-bot.gguf"), busy=()) == (1, SHARED)


def test_room_is_made_by_dropping_the_least_recently_used_idle_slot(
    scheduler: Scheduler,
) -> None:
    cache = scheduler.cache
    for slot in (1, 0, 2):
        holding(cache, slot, PROMPT[:SHARED])
        cache.take(slot)

    assert cache.free_idle(busy={0}) is True
    assert [len(tokens) for tokens in cache.cached[:3]] == [SHARED, 0, SHARED]
    assert cache.fits(512 - 2 * SHARED) and not cache.fits(512 - 2 * SHARED + 1)


def test_with_every_slot_busy_or_empty_nothing_can_be_dropped(scheduler: Scheduler) -> None:
    cache = scheduler.cache
    holding(cache, 0, PROMPT[:SHARED])

    assert cache.free_idle(busy={0}) is False
    assert cache.cached[0] == PROMPT[:SHARED]
