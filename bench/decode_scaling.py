"""Benchmark: how far batching can speed decoding up on this machine, below any server.

    PYTHONPATH=src .venv/bin/python bench/decode_scaling.py [GGUF ...] [--threads 2]

Times `llama_decode` alone (llama.cpp's own C, through llama-cpp-python's bindings; no
sampling, no HTTP, no scheduler) for one step of 1, 4, 8 and 16 sequences, each holding a
200-token prompt and adding one token per step, in one unified cache of 16,384 q8_0 cells with
flash attention: the settings of bench/batching_reference.py. Aggregate tokens/s of a step and
its ratio to one sequence's are the ceiling of what continuous batching can give a server built
on llama.cpp here (corral or llama-server): issue 25 asks corral for 2.5x at 8 streams.

Without arguments it measures the embedded model. Other GGUFs (for example the embedded model
requantised with llama.cpp's `llama_model_quantize`) are measured in the same run, one after the
other, so that their ratios can be compared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import llama_cpp

from local_setup import model_path

SEQUENCES = (1, 4, 8, 16)
PROMPT_TOKENS = 200
STEPS = 40
WARM_STEPS = 5
KV_CELLS = 16384
GGML_TYPE_Q8_0 = 8
FLASH_ATTENTION_ON = 1
_QUIET = llama_cpp.llama_log_callback(lambda *_: None)
"""llama.cpp's log sink, kept referenced: a callback that is collected crashes the next log."""


def context(model: llama_cpp.llama_model_p, threads: int) -> llama_cpp.llama_context_p:
    params = llama_cpp.llama_context_default_params()
    params.n_ctx, params.n_batch, params.n_ubatch = KV_CELLS, 512, 512
    params.n_seq_max = max(SEQUENCES)
    params.n_threads = params.n_threads_batch = threads
    params.flash_attn_type = FLASH_ATTENTION_ON
    params.kv_unified = True
    params.type_k = params.type_v = GGML_TYPE_Q8_0
    made: llama_cpp.llama_context_p = llama_cpp.llama_init_from_model(model, params)
    return made


def step_seconds(
    ctx: llama_cpp.llama_context_p, sequences: int, prompt_tokens: int = PROMPT_TOKENS
) -> float:
    """Median time of one decode step of `sequences` tokens, after their prompts are in."""
    batch = llama_cpp.llama_batch_init(512, 0, 1)

    def decode(tokens: list[tuple[int, int, int]]) -> None:
        batch.n_tokens = len(tokens)
        for i, (token, position, sequence) in enumerate(tokens):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, position, 1
            batch.seq_id[i][0], batch.logits[i] = sequence, 1
        if llama_cpp.llama_decode(ctx, batch) != 0:
            raise SystemExit("llama_decode failed")

    try:
        for sequence in range(sequences):
            for start in range(0, prompt_tokens, 100):
                width = min(100, prompt_tokens - start)
                decode(
                    [(100 + (sequence * 7 + j) % 1000, start + j, sequence) for j in range(width)]
                )
        times = []
        for step in range(STEPS):
            began = time.perf_counter()
            decode([(200 + (step + s) % 500, prompt_tokens + step, s) for s in range(sequences)])
            times.append(time.perf_counter() - began)
    finally:
        llama_cpp.llama_batch_free(batch)
    return statistics.median(times[WARM_STEPS:])


def measure(path: Path, threads: int) -> dict[int, float]:
    model = llama_cpp.llama_model_load_from_file(
        str(path).encode(), llama_cpp.llama_model_default_params()
    )
    if not model:
        raise SystemExit(f"{path}: not a model llama.cpp can load")
    found = {}
    try:
        for sequences in SEQUENCES:
            ctx = context(model, threads)  # a fresh cache: no earlier sequence's cells
            try:
                found[sequences] = step_seconds(ctx, sequences)
            finally:
                llama_cpp.llama_free(ctx)
    finally:
        llama_cpp.llama_model_free(model)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, help="GGUF files (default: embedded)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    llama_cpp.llama_log_set(_QUIET, None)
    print(f"load before: {os.getloadavg()}", flush=True)
    print(f"{'model':40} {'sequences':>9} {'step ms':>8} {'tok/s':>7} {'x one':>6}")
    for path in args.models or [model_path()]:
        steps = measure(path, args.threads)
        single = 1 / steps[1]
        for sequences, seconds in steps.items():
            rate = sequences / seconds
            print(
                f"{path.name:40} {sequences:>9} {seconds * 1000:>8.1f} {rate:>7.1f} "
                f"{rate / single:>6.2f}",
                flush=True,
            )
    print(
        f"threads {args.threads}, {KV_CELLS} q8_0 cells in one unified cache, flash attention, "
        f"{PROMPT_TOKENS}-token prompts; load after: {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
