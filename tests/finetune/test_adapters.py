"""Adapters switched per request on the one served base: a request with an adapter answers as
the adapter makes it, the base answers as before once the adapter is switched off, and
alternating adapters gives each its own answer every time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from corral.backends.llama_cpp.adapters import AdapterSwitch, LoadedAdapters
from corral.finetune.export import write_gguf_lora

# SmolLM2-135M's shapes: 576 wide, 9 query heads of 64, 3 key/value heads.
HIDDEN, HEADS, KV_HEADS = 576, 9, 3
PROMPT = "The capital of France is"


def random_adapter(path: Path, seed: int) -> Path:
    """A strong random LoRA on the first layers' v and o projections: it changes the answer."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    state = {}
    for layer in range(4):
        for module, rows in (("v_proj", HIDDEN // HEADS * KV_HEADS), ("o_proj", HIDDEN)):
            prefix = f"base_model.model.model.layers.{layer}.self_attn.{module}"
            state[f"{prefix}.lora_A.weight"] = torch.randn(8, HIDDEN, generator=generator)
            state[f"{prefix}.lora_B.weight"] = torch.randn(rows, 8, generator=generator) * 0.5
    write_gguf_lora(state, 16, HEADS, KV_HEADS, path)
    return path


@pytest.fixture(scope="module")
def llm(model_path: Path) -> Iterator[Any]:
    import llama_cpp

    model = llama_cpp.Llama(str(model_path), n_ctx=128, n_threads=1, logits_all=True, verbose=False)
    yield model
    model.close()


def logits(llm: Any) -> Any:
    llm.reset()
    llm.eval(llm.tokenize(PROMPT.encode()))
    return np.array(llm.scores[llm.n_tokens - 1])


def test_each_request_runs_with_the_adapter_it_names(llm: Any, tmp_path: Path) -> None:
    one = random_adapter(tmp_path / "one.gguf", seed=1)
    two = random_adapter(tmp_path / "two.gguf", seed=2)
    switch = AdapterSwitch(llm)
    base = logits(llm)

    assert switch.use(one)
    with_one = logits(llm)
    assert switch.use(two)
    with_two = logits(llm)
    assert np.abs(with_one - base).max() > 0.1
    assert np.abs(with_two - with_one).max() > 0.1

    for adapter, expected in ((one, with_one), (None, base), (two, with_two), (one, with_one)):
        switch.use(adapter)
        assert np.allclose(logits(llm), expected, atol=1e-4)
    assert not switch.use(one)  # already on: nothing to do


def test_past_its_limit_an_instance_frees_the_least_recently_used_adapter(
    llm: Any, tmp_path: Path
) -> None:
    one, two, three = (random_adapter(tmp_path / f"{n}.gguf", seed=n) for n in (1, 2, 3))
    switch = AdapterSwitch(llm, limit=2)
    switch.use(one)
    with_one = logits(llm)
    switch.use(two)
    switch.use(one)  # one is now the more recently used
    switch.use(three)
    assert switch.loaded == [one, three]  # two was freed

    switch.use(two)  # loaded again when asked for: its answer is its own
    assert switch.loaded == [three, two]
    switch.use(one)
    assert np.allclose(logits(llm), with_one, atol=1e-4)


def test_a_deleted_model_s_adapter_is_freed_at_the_next_switch(llm: Any, tmp_path: Path) -> None:
    one, two = (random_adapter(tmp_path / f"{n}.gguf", seed=n) for n in (1, 2))
    switch = AdapterSwitch(llm, limit=8)
    switch.use(one)
    switch.use(two)
    one.unlink()  # what deleting its fine-tuned model does
    switch.use(None)
    assert switch.loaded == [two]


def test_adapters_in_use_are_kept_past_the_limit_and_freed_once_unused(
    llm: Any, tmp_path: Path
) -> None:
    # A batched base's sequences run with several adapters at once (`adapter_groups.py`).
    one, two, three = (random_adapter(tmp_path / f"{n}.gguf", seed=n) for n in (1, 2, 3))
    adapters = LoadedAdapters(llm, limit=1)
    for adapter in (one, two, three):
        adapters.handle(adapter)

    adapters.evict({one, two})
    assert adapters.loaded == [one, two]
    adapters.evict({None})  # the base alone runs now
    assert adapters.loaded == [two]
