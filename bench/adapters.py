"""Benchmark: serving fine-tuned models on the shared base (issue 24's serving targets).

Targets: a fine-tuned model decodes at >= 0.95 x the base's tokens/s, and requests alternating
between 4 tenants' adapters cost <= 20 ms more per request than the same requests on one.

Method, in one process, on the embedded SmolLM2 (llama.cpp, `--threads`): four random GGUF
LoRAs shaped as a job makes them (r=8 on q, k, v, o, gate, up, down of every layer, written by
`corral.finetune.export`), switched with the `AdapterSwitch` corral's backend uses.
(a) decode: `--tokens` tokens, greedy, from a short prompt, base alone and with an adapter on;
tokens/s of the generation after the first token, the best of `--rounds`.
(b) switch: `--requests` short chat requests (prompt ~40 tokens, `--switch-tokens` generated)
cycling through the 4 adapters, against the same requests all on one adapter; the difference of
the mean request time is what a switch costs (setting the adapter, and the prompt evaluated
again: a switch forgets the cached prefix).
(b') the same with every request's prompt its own (numbered at the start): no request then
reuses the prefix of the one before, switch or not, so the difference is the switch itself
(setting the adapter; llama.cpp re-reserves the compute graph at the next decode). In (b) a
switch also costs the shared prompt read again, which requests on one adapter find cached.
(b'') the same distinct prompts in pairs on one adapter, the adapters in turn (a a b b c c d d
...): the first request of each pair follows a switch, the second does not, and the two run
side by side in time, so a machine whose speed drifts between (b')'s two blocks of requests
moves both alike; the difference of their medians is the switch.
(c) eviction: the same alternating requests on an instance that keeps only 2 adapters loaded
(`max_adapters = 2`), so that every switch frees one adapter and loads another from its file,
against the alternating requests with all 4 loaded: what a switch past the cap costs more.

Run: `.venv/bin/python bench/adapters.py` (writes bench/results/adapters.json).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from corral.backends.llama_cpp.adapters import AdapterSwitch
from corral.finetune.export import write_gguf_lora
from corral.settings import load_settings

LAYERS, HIDDEN, FFN, HEADS, KV_HEADS, RANK = 30, 576, 1536, 9, 3, 8
PROMPT = (
    "<|im_start|>user\nWrite one sentence about the sea, the wind and a small boat that "
    "leaves the harbour at dawn.<|im_end|>\n<|im_start|>assistant\n"
)


def random_adapter(path: Path, seed: int) -> Path:
    import torch

    generator = torch.Generator().manual_seed(seed)
    kv = HIDDEN // HEADS * KV_HEADS
    shapes = {
        "self_attn.q_proj": (HIDDEN, HIDDEN),
        "self_attn.k_proj": (HIDDEN, kv),
        "self_attn.v_proj": (HIDDEN, kv),
        "self_attn.o_proj": (HIDDEN, HIDDEN),
        "mlp.gate_proj": (HIDDEN, FFN),
        "mlp.up_proj": (HIDDEN, FFN),
        "mlp.down_proj": (FFN, HIDDEN),
    }
    state = {}
    for layer in range(LAYERS):
        for module, (inputs, outputs) in shapes.items():
            prefix = f"base_model.model.model.layers.{layer}.{module}"
            state[f"{prefix}.lora_A.weight"] = torch.randn(RANK, inputs, generator=generator) * 0.01
            state[f"{prefix}.lora_B.weight"] = (
                torch.randn(outputs, RANK, generator=generator) * 0.01
            )
    write_gguf_lora(state, 16, HEADS, KV_HEADS, path)
    return path


def decode_rate(llm: Any, tokens: int, rounds: int) -> float:
    best = 0.0
    for _ in range(rounds):
        llm.reset()
        stream = llm.create_completion(PROMPT, max_tokens=tokens, temperature=0, stream=True)
        next(stream)  # the prompt and the first token: not decode
        start, produced = time.perf_counter(), 0
        for _chunk in stream:
            produced += 1
        best = max(best, produced / (time.perf_counter() - start))
    return best


def request_times(
    llm: Any, switch: AdapterSwitch, order: list[Path], tokens: int, distinct: bool = False
) -> list[float]:
    """Each request's seconds, its adapter set first. `distinct`: every request a prompt of its
    own (numbered at the start), so that no request reuses the cached prefix of the one before,
    with or without a switch."""
    times = []
    for number, adapter in enumerate(order):
        prompt = PROMPT.replace("user\n", f"user\n{number}. ", 1) if distinct else PROMPT
        start = time.perf_counter()
        switch.use(adapter)
        llm.create_completion(prompt, max_tokens=tokens, temperature=0)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--switch-tokens", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("bench/results/adapters.json"))
    args = parser.parse_args()
    import llama_cpp

    model = load_settings().embedded_model_path
    llm = llama_cpp.Llama(str(model), n_ctx=512, n_threads=args.threads, verbose=False)
    switch = AdapterSwitch(llm)
    with tempfile.TemporaryDirectory() as tmp:
        adapters = [random_adapter(Path(tmp) / f"a{i}.gguf", seed=i) for i in range(4)]
        switch.use(None)
        base = decode_rate(llm, args.tokens, args.rounds)
        switch.use(adapters[0])
        tuned = decode_rate(llm, args.tokens, args.rounds)
        request_times(llm, switch, adapters, args.switch_tokens)  # warm: load each adapter once
        same = request_times(llm, switch, adapters[:1] * args.requests, args.switch_tokens)
        cycling = [adapters[i % 4] for i in range(args.requests)]
        alternating = request_times(llm, switch, cycling, args.switch_tokens)
        fresh_same = request_times(
            llm, switch, adapters[:1] * args.requests, args.switch_tokens, True
        )
        fresh_cycling = request_times(llm, switch, cycling, args.switch_tokens, True)
        paired = [adapters[i // 2 % 4] for i in range(2 * args.requests)]
        pairs = request_times(llm, switch, paired, args.switch_tokens, True)
        capped = AdapterSwitch(llm, limit=2)
        evicting = request_times(llm, capped, cycling, args.switch_tokens)
        assert len(capped.loaded) == 2
    llm.close()
    switch_ms = (statistics.mean(alternating) - statistics.mean(same)) * 1000
    report = {
        "machine": platform.machine(),
        "threads": args.threads,
        "decode_tok_s": {"base": round(base, 1), "fine_tuned": round(tuned, 1)},
        "decode_ratio": round(tuned / base, 3),
        "request_ms": {
            "same_adapter": round(statistics.mean(same) * 1000, 1),
            "alternating_4": round(statistics.mean(alternating) * 1000, 1),
        },
        "switch_cost_ms": round(switch_ms, 1),
        "distinct_prompts_request_ms": {
            "same_adapter": round(statistics.mean(fresh_same) * 1000, 1),
            "alternating_4": round(statistics.mean(fresh_cycling) * 1000, 1),
        },
        "switch_cost_without_prefix_ms": round(
            (statistics.mean(fresh_cycling) - statistics.mean(fresh_same)) * 1000, 1
        ),
        "paired_request_ms": {
            "after_a_switch": round(statistics.median(pairs[0::2]) * 1000, 1),
            "same_adapter_again": round(statistics.median(pairs[1::2]) * 1000, 1),
        },
        "switch_cost_paired_ms": round(
            (statistics.median(pairs[0::2]) - statistics.median(pairs[1::2])) * 1000, 1
        ),
        "evicting_request_ms": round(statistics.mean(evicting) * 1000, 1),
        "reload_cost_ms": round(
            (statistics.mean(evicting) - statistics.mean(alternating)) * 1000, 1
        ),
        "targets": {"decode_ratio": ">= 0.95", "switch_cost_ms": "<= 20"},
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
