"""Benchmark: prompt speed of the batched scheduler (8 slots, shared cache) by KV cache type.

    PYTHONPATH=src .venv/bin/python bench/batching_prompt_speed.py [--threads 2] [--runs 2]

In one process, no server: the embedded SmolLM2-135M-Instruct GGUF at 8,192 context, a
`Scheduler` with 8 slots and 16,384 shared cells, one 2,000-token prompt read alone (nothing
cached: each run's second token differs), once with an f16 cache and once with q8_0.
Prints prompt tokens / time to the first sampled token for each run, q8_0 over f16 as a ratio,
with the load average: the machine is shared, runs vary.
"""

from __future__ import annotations

import argparse
import os
import time

from corral.backends.base import SamplingParams, UsageMeter
from corral.backends.llama_cpp import loader
from corral.backends.llama_cpp.scheduler import Scheduler
from corral.backends.llama_cpp.sequence import Sequence
from corral.cancellation import Cancellation
from corral.settings import LocalModelConfig
from local_setup import model_path

PROMPT_TOKENS = 2000
TEXT = "The harbour office keeps records of every ship that moors here. " * 170


def speeds(kv_type: str, threads: int, runs: int) -> list[float]:
    config = LocalModelConfig(name="m", path=model_path(), kv_cache_type=kv_type, threads=threads)
    llama = loader.open_generator(config, 8192)
    scheduler = Scheduler(llama, 8, kv_cells=16384)
    try:
        tokens = llama.tokenize(TEXT.encode(), add_bos=True, special=False)[:PROMPT_TOKENS]
        found = []
        for run in range(runs):
            prompt = [tokens[0], 1000 + run, *tokens[2:]]  # shares no prefix with earlier runs
            params = SamplingParams(max_tokens=1, temperature=0)
            sequence = Sequence(prompt, params, None, Cancellation(), lambda _: None, UsageMeter())
            started = time.monotonic()
            scheduler.submit(sequence).result(timeout=600)
            found.append(PROMPT_TOKENS / (time.monotonic() - started))
        print(f"{kv_type}: {[round(s, 1) for s in found]} tok/s; load {os.getloadavg()}")
        return found
    finally:
        scheduler.close()
        llama.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    f16 = speeds("f16", args.threads, args.runs)
    q8 = speeds("q8_0", args.threads, args.runs)
    best_f16, best_q8 = max(f16), max(q8)
    print(
        f"prompt tok/s (best of {args.runs}): f16 {best_f16:.1f}, q8_0 {best_q8:.1f}, ratio "
        f"q8_0/f16 {best_q8 / best_f16:.2f}; load after {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
