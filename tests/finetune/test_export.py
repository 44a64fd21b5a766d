"""The adapter as a GGUF LoRA: llama.cpp's tensor names and metadata, and lora_B of q and k in
the row order of the served GGUF (the one transformers undid when it loaded the base)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from corral.finetune.export import gguf_name, rope_permute, write_gguf_lora


def test_peft_keys_get_llama_cpp_names() -> None:
    key = "base_model.model.model.layers.3.self_attn.q_proj.lora_B.weight"
    assert gguf_name(key) == ("blk.3.attn_q.weight.lora_b", "attn_q")
    down = "base_model.model.model.layers.0.mlp.down_proj.lora_A.weight"
    assert gguf_name(down) == ("blk.0.ffn_down.weight.lora_a", "ffn_down")
    assert gguf_name("base_model.model.lm_head.weight") is None


def test_the_permutation_puts_back_what_the_gguf_loader_undid() -> None:
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    served = np.arange(64 * 3, dtype=np.float32).reshape(64, 3)
    loader = LlamaTensorProcessor(config={"num_attention_heads": 8, "num_key_value_heads": 4})
    loaded = loader.process(served, "blk.0.attn_k.weight").weights
    assert not np.array_equal(loaded, served)
    assert np.array_equal(rope_permute(loaded, 4), served)


def test_the_written_file_is_a_llama_lora_adapter(tmp_path: Path) -> None:
    import gguf
    import torch

    prefix = "base_model.model.model.layers.0."
    state = {
        prefix + "self_attn.q_proj.lora_A.weight": torch.ones(8, 32),
        prefix + "self_attn.q_proj.lora_B.weight": torch.arange(32 * 8.0).reshape(32, 8),
        prefix + "mlp.up_proj.lora_A.weight": torch.ones(8, 32),
        prefix + "mlp.up_proj.lora_B.weight": torch.ones(64, 8),
    }
    path = tmp_path / "adapter.gguf"
    assert write_gguf_lora(state, 16, 4, 2, path) == 4
    reader = gguf.GGUFReader(str(path))
    fields = {name: field.contents() for name, field in reader.fields.items()}
    assert fields["general.architecture"] == "llama"
    assert fields["general.type"] == "adapter"
    assert fields["adapter.type"] == "lora"
    assert fields["adapter.lora.alpha"] == 16.0
    tensors = {tensor.name: tensor for tensor in reader.tensors}
    assert sorted(tensors) == [
        "blk.0.attn_q.weight.lora_a",
        "blk.0.attn_q.weight.lora_b",
        "blk.0.ffn_up.weight.lora_a",
        "blk.0.ffn_up.weight.lora_b",
    ]
    q_b = np.asarray(tensors["blk.0.attn_q.weight.lora_b"].data).reshape(32, 8)
    original = state[prefix + "self_attn.q_proj.lora_B.weight"].numpy()
    assert np.array_equal(q_b, rope_permute(original, 4))
