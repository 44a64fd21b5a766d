"""Chat examples become token sequences whose targets are the assistant's words only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from corral.finetune.data import IGNORE, Sequence, tokenise


def tokenizer_of(base: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(base))


def targets(tokenizer: Any, sequence: Sequence) -> str:
    ids = [
        i for i, label in zip(sequence.input_ids, sequence.labels, strict=True) if label != IGNORE
    ]
    return str(tokenizer.decode(ids))


def test_only_the_assistant_turns_are_trained_on(tiny_base: Path) -> None:
    tokenizer = tokenizer_of(tiny_base)
    example = {
        "messages": [
            {"role": "user", "content": "say hi"},
            {"role": "assistant", "content": "HI"},
            {"role": "user", "content": "again"},
            {"role": "assistant", "content": "HI AGAIN"},
        ]
    }
    sequence = tokenise(example, tokenizer, 1000)
    whole = tokenizer.apply_chat_template(example["messages"], tokenize=False)
    assert tokenizer.decode(sequence.input_ids) == whole
    assert targets(tokenizer, sequence) == "HI<|im_end|>\nHI AGAIN<|im_end|>\n"


def test_an_assistant_turn_of_weight_0_is_context_only(tiny_base: Path) -> None:
    tokenizer = tokenizer_of(tiny_base)
    example = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "WRONG", "weight": 0},
            {"role": "user", "content": "b"},
            {"role": "assistant", "content": "RIGHT", "weight": 1},
        ]
    }
    assert targets(tokenizer, tokenise(example, tokenizer, 1000)) == "RIGHT<|im_end|>\n"


def test_a_long_example_is_cut_at_the_limit(tiny_base: Path) -> None:
    tokenizer = tokenizer_of(tiny_base)
    example = {
        "messages": [{"role": "user", "content": "x" * 50}, {"role": "assistant", "content": "y"}]
    }
    sequence = tokenise(example, tokenizer, 16)
    assert len(sequence.input_ids) == len(sequence.labels) == 16
    assert sequence.trained_tokens == 0
