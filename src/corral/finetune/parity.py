"""Before a fine-tuned model is published: does llama.cpp, running the converted GGUF LoRA on
an F32 copy of the base, give the trained torch model's log-probabilities?

The served base is quantised, so it cannot be compared with torch token for token; its F32
copy (the same weights dequantised, as torch trains on them, written once per base with the
float copy, `corral.finetune.base`) can. The check runs a few training examples through both
and compares the log-prob of each actual next token: a converted adapter that is wrong (a
missed row permutation is wrong by up to half a nat per token) fails the job instead of
publishing a silently wrong model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corral.finetune.base import F32_NAME, write_f32
from corral.finetune.data import Sequence

TOLERANCE = 1e-3
"""Nats per token: the most the mean |difference| of log-probs may be."""
EXAMPLES = 4
"""Examples compared (the first ones of the training file)."""
MAX_TOKENS = 256
"""Each compared example is cut here."""
F32_TYPE = 0
"""GGML_TYPE_F32."""


@dataclass(frozen=True, slots=True)
class Parity:
    tokens: int
    mean_diff: float
    max_diff: float

    @property
    def passed(self) -> bool:
        return self.mean_diff < TOLERANCE

    def as_dict(self) -> dict[str, Any]:
        return {
            "tokens": self.tokens,
            "mean_abs_logprob_diff": self.mean_diff,
            "max_abs_logprob_diff": self.max_diff,
            "tolerance": TOLERANCE,
        }


def f32_base(gguf_path: Path, float_dir: Path) -> Path:
    """The F32 copy of the served GGUF (same metadata, every tensor dequantised to float32) in
    its float copy's directory: made with the float copy (`corral.finetune.base`), or here for
    a float copy made before it was. Blocking, seconds: call from a thread."""
    target = float_dir / F32_NAME
    if target.is_file():
        return target
    staging = target.with_suffix(f".partial-{os.getpid()}")
    try:
        write_f32(gguf_path, staging)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    return target


def check(run: Any, f32_gguf: Path, adapter_gguf: Path, sequences: list[Sequence]) -> Parity:
    """Compare the trained model (`run`, a `LoraRun`) with llama.cpp on the F32 base and the
    GGUF LoRA, over the first examples. Blocking: call from a thread."""
    import llama_cpp
    import numpy as np

    chosen = [s.input_ids[:MAX_TOKENS] for s in sequences[:EXAMPLES] if len(s.input_ids) > 1]
    width = max(len(ids) for ids in chosen)
    llm: Any = llama_cpp.Llama(
        str(f32_gguf),
        lora_path=str(adapter_gguf),
        n_ctx=width + 8,
        n_batch=width + 8,
        n_threads=max(1, run.threads),
        logits_all=True,
        # A float32 KV cache without flash attention: f16 cache alone differs from torch by
        # ~2e-3 nats per token (measured on SmolLM2-135M), more than the tolerance.
        type_k=F32_TYPE,
        type_v=F32_TYPE,
        flash_attn=False,
        verbose=False,
    )
    diffs: list[Any] = []
    try:
        for ids in chosen:
            llm.reset()
            llm.eval(ids)
            native = _next_token_logprobs(np.asarray(llm.scores[: len(ids)]), ids)
            diffs.append(np.abs(native - run.next_token_logprobs(ids)))
    finally:
        llm.close()
    every = np.concatenate(diffs)
    return Parity(int(every.size), float(every.mean()), float(every.max()))


def _next_token_logprobs(logits: Any, ids: list[int]) -> Any:
    import numpy as np

    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    logprobs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return logprobs[np.arange(len(ids) - 1), ids[1:]]
