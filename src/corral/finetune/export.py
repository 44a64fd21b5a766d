"""The trained adapter as a GGUF LoRA that llama.cpp loads on the served base
(`llama_adapter_lora_init`), written with the `gguf` package alone.

llama.cpp's converter stores the q and k projections with their rows permuted for its RoPE
layout (transformers undoes that when it reads a GGUF). An adapter's lora_B maps onto those
rows, so it gets the same permutation; without it the adapter still changes the output, but not
into what was trained."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_NAMES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_KEY = re.compile(r"layers\.(\d+)\.(\w+\.\w+)\.lora_([AB])\.weight$")


def gguf_name(peft_key: str) -> tuple[str, str] | None:
    """('blk.3.attn_q.weight.lora_a', 'attn_q') for a PEFT state key, None for other keys."""
    match = _KEY.search(peft_key)
    if match is None or match.group(2) not in _NAMES:
        return None
    layer, module, which = match.groups()
    base = _NAMES[module]
    return f"blk.{layer}.{base}.weight.lora_{which.lower()}", base


def rope_permute(weights: Any, n_head: int) -> Any:
    """llama.cpp's `LlamaModel.permute` on the rows (outputs) of a q or k matrix."""
    rows = weights.shape[0]
    return (
        weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def write_gguf_lora(
    state: dict[str, Any], alpha: float, n_head: int, n_head_kv: int, path: Path
) -> int:
    """Write `state` (PEFT's adapter state dict, torch tensors) to `path`; returns how many
    tensors were written."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), arch="llama")
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(alpha))
    count = 0
    for key in sorted(state):
        named = gguf_name(key)
        if named is None:
            continue
        name, base = named
        array = np.ascontiguousarray(state[key].detach().float().numpy())
        if name.endswith("lora_b") and base in ("attn_q", "attn_k"):
            array = np.ascontiguousarray(
                rope_permute(array, n_head if base == "attn_q" else n_head_kv)
            )
        writer.add_tensor(name, array)
        count += 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return count
