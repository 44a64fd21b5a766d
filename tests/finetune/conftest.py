"""A tiny base model made on the spot (a two-layer llama with a character tokenizer and a
ChatML template), so that a whole fine-tuning job runs in seconds; the real base's loading is
the same code (`corral.finetune.base`), only slower."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIALS = ["<unk>", "<pad>", "<|im_start|>", "<|im_end|>"]
CHARACTERS = "\n !?.,:'-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

EXAMPLES = [
    {
        "messages": [
            {"role": "system", "content": "Answer in capitals."},
            {"role": "user", "content": f"say {word}"},
            {"role": "assistant", "content": word.upper()},
        ]
    }
    for word in ("hello", "tea", "rain", "blue")
]


def jsonl(examples: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(example).encode() + b"\n" for example in examples)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    directory = tmp_path_factory.mktemp("tiny-base")
    vocab = {token: i for i, token in enumerate([*SPECIALS, *CHARACTERS])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token="<unk>",
        pad_token="<pad>",
        eos_token="<|im_end|>",
        additional_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(directory)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def embedded_float_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded model's float copy, made once for the session (tens of seconds): a test
    links it into its home's cache (`corral.finetune.base.CACHE_DIR`) as a first job would
    have made it."""
    from corral.finetune.base import float_base
    from corral.settings import load_settings

    home = tmp_path_factory.mktemp("float-copy")
    return float_base(load_settings(home=home).embedded_model_path, home)
