"""Benchmark: memory of a batched model (8 slots, one unified KV cache) by KV cache type.

    PYTHONPATH=src .venv/bin/python bench/batching_memory.py [--threads 2] [--slots 8]

corral serves the embedded SmolLM2-135M-Instruct GGUF with `slots = 8`, `context_length =
8192` (each request may use all of it) and one KV cache of `kv_cells = 16384` cells shared by
the slots, with an f16, a q8_0 and a q4_0 cache, back to back. For each: the server's RSS
(process tree) when ready and idle, then after 8 concurrent chats of ~200-token prompts, and the
prompt speed of one ~2,000-token prompt read alone (prompt tokens / time to first token, no
prefix cached). The target (issue 25) is an idle RSS under 400 MB. Printed side by side, q8_0
and q4_0 over f16 as ratios, with the load average: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

import llama_cpp
from openai import AsyncOpenAI

import batching_cells as cells
from batching_servers import corral_spec
from local_setup import ADMIN_KEY, long_prompt_text, model_path
from procs import memory, running

CONTEXT = 8192
KV_CELLS = 16384
LONG_PROMPT_TOKENS = 2000
TARGET_IDLE_MB = 400
KV_TYPES = ("f16", "q8_0", "q4_0")


async def exercise(base_url: str, prompts: list[str], long_prompt: str) -> dict[str, float]:
    client = AsyncOpenAI(base_url=base_url + "/v1", api_key=ADMIN_KEY, timeout=1800, max_retries=0)
    async with client:
        await cells.stream(client, [{"role": "user", "content": "Hello"}], 4)  # warm-up
        batch = await cells.concurrent(client, prompts, 16)
        sample = await cells.stream(client, [{"role": "user", "content": long_prompt}], 1)
    assert sample.first is not None, "the long prompt got no text back"
    return {"batch_tok_s": batch.tok_s, "long_ttft_s": sample.first - sample.sent}


def measure(
    kv_type: str, args: argparse.Namespace, inputs: tuple[list[str], str]
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        spec = corral_spec(
            workdir, model_path(), args.threads, args.slots, CONTEXT, kv_type, KV_CELLS
        )
        with running(spec, workdir / "corral.log") as started:
            idle = memory(started.pid)["rss_mb"]
            figures = asyncio.run(exercise(spec.base_url, *inputs))
            figures["busy_rss_mb"] = memory(started.pid)["rss_mb"]
    figures["idle_rss_mb"] = idle
    figures["prompt_tok_s"] = LONG_PROMPT_TOKENS / figures["long_ttft_s"]
    print(f"{kv_type}: {figures}; load {os.getloadavg()}", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--slots", type=int, default=8)
    args = parser.parse_args()
    vocab = llama_cpp.Llama(str(model_path()), vocab_only=True, verbose=False)
    try:
        inputs = (
            cells.stream_prompts(vocab, args.slots, 300),
            long_prompt_text(vocab, LONG_PROMPT_TOKENS, 4242),
        )
    finally:
        vocab.close()
    print(f"load before: {os.getloadavg()}", flush=True)
    found = {kv_type: measure(kv_type, args, inputs) for kv_type in KV_TYPES}
    f16, q8, q4 = (found[kv_type] for kv_type in KV_TYPES)
    print(f"{'':36} {'f16':>9} {'q8_0':>9} {'q4_0':>9} {'q8_0/f16':>9} {'q4_0/f16':>9}")
    for name, key in (
        ("idle RSS (MB)", "idle_rss_mb"),
        (f"RSS after {args.slots} concurrent chats (MB)", "busy_rss_mb"),
        (f"prompt speed, {LONG_PROMPT_TOKENS} tokens (tok/s)", "prompt_tok_s"),
        (f"{args.slots} streams (tok/s, all together)", "batch_tok_s"),
    ):
        print(
            f"{name:36} {f16[key]:>9.1f} {q8[key]:>9.1f} {q4[key]:>9.1f} "
            f"{q8[key] / f16[key]:>9.2f} {q4[key] / f16[key]:>9.2f}"
        )
    print(
        f"slots {args.slots}, threads {args.threads}, context {CONTEXT} per request, "
        f"{KV_CELLS} KV cells shared; target idle RSS < {TARGET_IDLE_MB} MB; "
        f"load after: {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
