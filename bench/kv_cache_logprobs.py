"""How far a KV cache's number format moves the embedded model's log-probabilities.

    PYTHONPATH=src .venv/bin/python bench/kv_cache_logprobs.py

An eval run's manifest records each item's output digest, which covers the log-probabilities of
its multiple-choice options (`evals.report.output_digest`). `corral eval verify --rerun`
reports an item as differing when a rerun's digest differs; this prints how much a q8_0, a q4_0
and an f16 cache (`kv_cache_type`) differ on one short text, through the server's own loader, to
show that such a change cannot pass as a reproduction, and what q4_0 costs beside q8_0.
"""

from __future__ import annotations

from pathlib import Path

import llama_cpp
import numpy as np

from corral.backends.llama_cpp.loader import _llama
from corral.settings import EMBEDDED_MODEL_FILE

MODEL = Path(__file__).resolve().parent.parent / ".venv/share/corral/models" / EMBEDDED_MODEL_FILE
TEXT = b"Question: Which colour is the sky on a clear day?\nAnswer: blue"
TYPES = {
    "q8_0": llama_cpp.GGML_TYPE_Q8_0,
    "q4_0": llama_cpp.GGML_TYPE_Q4_0,
    "f16": llama_cpp.GGML_TYPE_F16,
}
PAIRS = (("q8_0", "f16"), ("q4_0", "f16"), ("q4_0", "q8_0"))


def logprobs(kind: int) -> np.ndarray:
    """Each token's log-probability given the ones before it."""
    llm = _llama(MODEL, n_ctx=256, type_k=kind, type_v=kind, flash_attn=True, logits_all=True)
    try:
        tokens = llm.tokenize(TEXT)
        llm.eval(tokens)
        logits = np.array(llm.scores[: len(tokens)])
        normalised = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
        return np.array([normalised[i, tokens[i + 1]] for i in range(len(tokens) - 1)])
    finally:
        llm.close()


def main() -> None:
    found = {name: logprobs(kind) for name, kind in TYPES.items()}
    for one, other in PAIRS:
        diff = np.abs(found[one] - found[other])
        print(
            f"{len(diff)} tokens: {one} against {other}, max |diff| {diff.max():.4f} nats, "
            f"mean {diff.mean():.4f}, identical: {bool((diff == 0).all())}"
        )


if __name__ == "__main__":
    main()
