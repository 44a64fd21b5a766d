"""Benchmark: fine-tuned models on a batched base (`slots` > 1), where each step decodes one
adapter's group (`corral.backends.llama_cpp.adapter_groups`).

Method, in one process, on the embedded SmolLM2 as served (q8_0 KV cache, flash attention),
with the four random job-shaped LoRAs of `bench/adapters.py`:
(a) streams: 4 concurrent greedy streams of `--tokens` tokens on one `Scheduler` (4 slots), all
on the base, all on one adapter, and each on its own adapter (4 groups taking turns); the
aggregate completion tokens/s of each cell (wall clock, prompt reading included, from the first
submit to the last token) and the CPU seconds per token, cells alternated over `--rounds`
rounds, best round kept. The ratio four-adapters / base is what a batched base serving four
fine-tuned tenants keeps of its speed; one-adapter / base splits it into the LoRA's own compute
and the grouping (each step then decodes one sequence instead of four).
(b) switch: on a context as the scheduler makes it, one sequence decoding one token a step,
`--switches` steps alternating two adapters against the same steps on one: the difference of
the mean step time is what a group switch costs (the call, and whatever the next decode does
again because the adapter list changed); and the `llama_set_adapters_lora` call alone.

Run: `PYTHONPATH=src .venv/bin/python bench/adapters_batched.py` (prints a JSON report, with
the load average before and after).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import llama_cpp
from llama_cpp import _internals

from adapters import random_adapter
from corral.backends.base import SamplingParams, UsageMeter
from corral.backends.llama_cpp import loader
from corral.backends.llama_cpp.adapters import LoadedAdapters
from corral.backends.llama_cpp.scheduler import Scheduler
from corral.backends.llama_cpp.sequence import Sequence
from corral.cancellation import Cancellation
from corral.settings import LocalModelConfig, load_settings

PROMPTS = [
    "Tell me about the sea and the ships that sail on it.",
    "Describe a walk in the mountains in early spring.",
    "Explain how bread is made, from the flour to the oven.",
    "Write about a city at night, its lights and its sounds.",
]


def streams(llama: Any, adapters: list[Path | None], tokens: int) -> tuple[float, float, int]:
    """(aggregate tokens/s, CPU seconds per token, group switches) of one stream per adapter."""
    scheduler = Scheduler(llama, len(adapters), kv_cells=2048)
    params = SamplingParams(max_tokens=tokens, temperature=0)
    sequences = [
        Sequence(
            llama.tokenize(prompt.encode(), add_bos=True, special=False),
            params,
            None,
            Cancellation(),
            lambda _: None,
            UsageMeter(),
            adapter=adapter,
        )
        for prompt, adapter in zip(PROMPTS, adapters, strict=False)
    ]
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        for sequence in sequences:
            scheduler.submit(sequence)
        produced = sum(s.future.result().usage.completion_tokens for s in sequences)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        switches = scheduler.adapters.switches
    finally:
        scheduler.close()
    return produced / wall, cpu / produced, switches


def switch_cost(llama: Any, handles: list[Any], steps: int) -> dict[str, float]:
    """Ms per one-token step alternating two adapters and on one (the best of 5 rounds, wall
    and CPU), and µs per set call."""
    params = llama_cpp.llama_context_params.from_buffer_copy(llama.context_params)
    params.n_seq_max, params.kv_unified = 4, True
    ctx = _internals.LlamaContext(model=llama._model, params=params, verbose=False)
    batch = llama_cpp.llama_batch_init(1, 0, 1)
    scales = (ctypes.c_float * 1)(1.0)
    lists = [(llama_cpp.llama_adapter_lora_p_ctypes * 1)(handle) for handle in handles]

    def run(alternate: bool) -> tuple[float, float]:
        """(wall, CPU) ms per step."""
        wall, cpu = time.perf_counter(), time.process_time()
        for step in range(steps):
            chosen = lists[step % 2] if alternate else lists[0]
            llama_cpp.llama_set_adapters_lora(ctx.ctx, chosen, 1, scales)
            batch.n_tokens, batch.token[0], batch.pos[0] = 1, 42, 0
            batch.n_seq_id[0], batch.seq_id[0][0], batch.logits[0] = 1, 0, True
            llama_cpp.llama_memory_seq_rm(ctx.memory, 0, 0, -1)  # the same position each step
            assert llama_cpp.llama_decode(ctx.ctx, batch) == 0
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return wall / steps * 1000, cpu / steps * 1000

    try:
        run(True)  # warm: both graphs built once
        same, alternating = [], []
        for _ in range(5):  # alternated, so that the machine's load weighs on both alike
            same.append(run(False))
            alternating.append(run(True))
        start = time.perf_counter()
        for step in range(steps):
            llama_cpp.llama_set_adapters_lora(ctx.ctx, lists[step % 2], 1, scales)
        call_us = (time.perf_counter() - start) / steps * 1e6
    finally:
        llama_cpp.llama_batch_free(batch)
        ctx.close()  # type: ignore[no-untyped-call]
    wall_same, wall_alt = min(w for w, _ in same), min(w for w, _ in alternating)
    cpu_same, cpu_alt = min(c for _, c in same), min(c for _, c in alternating)
    return {
        "step_ms_one_adapter": round(wall_same, 2),
        "step_ms_alternating": round(wall_alt, 2),
        "switch_ms": round(wall_alt - wall_same, 2),
        "step_cpu_ms_one_adapter": round(cpu_same, 2),
        "step_cpu_ms_alternating": round(cpu_alt, 2),
        "switch_cpu_ms": round(cpu_alt - cpu_same, 2),
        "set_call_us": round(call_us, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--switches", type=int, default=100)
    args = parser.parse_args()
    load_before = os.getloadavg()
    config = LocalModelConfig(
        name="smol", path=load_settings().embedded_model_path, threads=args.threads
    )
    llama = loader.open_generator(config, 512)
    with tempfile.TemporaryDirectory() as tmp:
        files = [random_adapter(Path(tmp) / f"a{i}.gguf", seed=i) for i in range(4)]
        cells: dict[str, list[Path | None]] = {
            "base": [None] * 4,
            "one_adapter": [files[0]] * 4,
            "four_adapters": list(files),
        }
        found: dict[str, list[tuple[float, float, int]]] = {name: [] for name in cells}
        for _ in range(args.rounds):
            for name, adapters in cells.items():
                found[name].append(streams(llama, adapters, args.tokens))
        loaded = LoadedAdapters(llama)
        switch = switch_cost(
            llama, [loaded.handle(files[0]), loaded.handle(files[1])], args.switches
        )
    llama.close()
    best = {name: max(runs) for name, runs in found.items()}
    base = best["base"][0]
    report = {
        "threads": args.threads,
        "tokens_per_stream": args.tokens,
        "aggregate_tok_s": {name: round(b[0], 1) for name, b in best.items()},
        "all_rounds_tok_s": {name: [round(r[0], 1) for r in runs] for name, runs in found.items()},
        "cpu_ms_per_token": {
            name: round(statistics.mean(r[1] for r in runs) * 1000, 2)
            for name, runs in found.items()
        },
        "ratio_four_adapters_to_base": round(best["four_adapters"][0] / base, 3),
        "ratio_one_adapter_to_base": round(best["one_adapter"][0] / base, 3),
        "group_switches_four_adapters": best["four_adapters"][2],
        "switch": switch,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
