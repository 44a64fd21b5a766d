"""Idle conversations parked in host memory while others run, and brought back for their next
turn: the cache holds only what runs, and a follow-up still reads only its new text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import pytest

from corral.backends.base import SamplingParams
from corral.backends.llama_cpp import loader
from corral.backends.llama_cpp.scheduler import Scheduler
from corral.settings import LocalModelConfig
from tests.backends.llama_cpp.test_scheduler import SYSTEM, Run, alone, counts, together

PARAMS = SamplingParams(max_tokens=12, temperature=0)


@pytest.fixture(scope="module")
def llama(model_path: Path) -> Iterator[llama_cpp.Llama]:
    model = loader.open_generator(LocalModelConfig(name="smol", path=model_path), 512)
    yield model
    model.close()


def tokens(llama: llama_cpp.Llama, text: str) -> int:
    return len(llama.tokenize(text.encode(), add_bos=True, special=False))


def test_a_conversation_parked_while_another_ran_reads_only_its_new_turn(
    llama: llama_cpp.Llama,
) -> None:
    first = SYSTEM + "Where is pier 4?"
    two = Scheduler(llama, 2, kv_cells=2048)
    try:
        [(answer, _)] = together(two, [Run(llama, first, PARAMS)])
        # Another conversation starts: the first one's cells leave the cache for host memory.
        other = "Once upon a time, a ship"
        together(two, [Run(llama, other, PARAMS)])
        parked = two.cache.parking.tokens
        follow_up = first + answer + " And pier 5?"
        [(text, outcome)] = together(two, [Run(llama, follow_up, PARAMS)])
    finally:
        two.close()

    assert parked == tokens(llama, first) + 12 - 1  # its last token never went into the cache
    assert two.stats.prefix_restores == 1
    # The other one, parked in turn:
    assert two.cache.parking.tokens == tokens(llama, other) + 12 - 1
    assert outcome.usage.cached_tokens >= tokens(llama, first)
    assert (text, counts(outcome.usage)) == alone(llama, follow_up, PARAMS)


def test_a_new_prompt_finds_nothing_parked_to_reuse_and_reads_it_all(
    llama: llama_cpp.Llama,
) -> None:
    two = Scheduler(llama, 2, kv_cells=2048)
    try:
        together(two, [Run(llama, SYSTEM + "Where is pier 4?", PARAMS)])
        together(two, [Run(llama, "Once upon a time, a ship", PARAMS)])
        [(text, outcome)] = together(two, [Run(llama, "def fibonacci(n):", PARAMS)])
    finally:
        two.close()

    assert outcome.usage.cached_tokens == 0 and two.stats.prefix_restores == 0
    assert text == alone(llama, "def fibonacci(n):", PARAMS)[0]


def test_host_memory_holds_at_most_half_the_cache_the_oldest_dropped_first(
    llama: llama_cpp.Llama,
) -> None:
    two = Scheduler(llama, 2, kv_cells=512)  # 256 tokens parked at most
    # ~77 tokens each with their answers, no prefix shared: the fifth start parks the fourth
    # and drops the first.
    prompts = [f"{n}. " + SYSTEM[:300] for n in range(5)]
    try:
        for prompt in prompts:
            together(two, [Run(llama, prompt, PARAMS)])
        held = two.cache.parking.tokens
        # The oldest conversation was dropped: it is read again in full.
        [(_, oldest)] = together(two, [Run(llama, prompts[0], PARAMS)])
        [(_, newest)] = together(two, [Run(llama, prompts[2], PARAMS)])
    finally:
        two.close()

    assert 0 < held <= 256
    assert oldest.usage.cached_tokens == 0
    assert newest.usage.cached_tokens == tokens(llama, prompts[2]) - 1
