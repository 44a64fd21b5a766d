"""Continuous batching, measured in-process: aggregate decode speed of N concurrent greedy
streams with `slots = 1` (one sequence at a time) against `slots = 8` (one batched context).

    PYTHONPATH=src .venv/bin/python bench/batching.py [--tokens 64] [--threads N]

Prints, per number of streams, the completion tokens per second of all streams together
(prompt reading and queueing included, model loading not), their ratio, and how many of the
batched answers are the same text as the one-at-a-time ones. Figures depend on the machine and
on what else runs on it: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from corral.backends.base import ChatMessage, GenerationRequest, SamplingParams
from corral.backends.llama_cpp import LlamaCppBackend
from corral.settings import LocalModelConfig, load_settings

STREAMS = (1, 4, 8)
SLOTS = (1, 8)
QUESTIONS = [
    "Tell me about the sea.",
    "Describe a walk in the mountains.",
    "Explain how bread is made.",
    "Write about a city at night.",
    "What do bees do in winter?",
    "Describe an old library.",
    "How does a bicycle work?",
    "Tell a short story about a fox.",
]


async def run(backend: LlamaCppBackend, streams: int, tokens: int) -> tuple[float, list[str]]:
    """(completion tokens per second of all streams together, their texts)."""
    requests = [
        GenerationRequest(
            f"bench-{i}",
            SamplingParams(max_tokens=tokens, temperature=0),
            messages=(ChatMessage("user", QUESTIONS[i % len(QUESTIONS)]),),
        )
        for i in range(streams)
    ]
    started = time.perf_counter()
    results = await asyncio.gather(*(backend.generate(request) for request in requests))
    elapsed = time.perf_counter() - started
    produced = sum(result.usage.completion_tokens for result in results)
    return produced / elapsed, [result.text for result in results]


async def measure(
    tokens: int, threads: int | None
) -> dict[tuple[int, int], tuple[float, list[str]]]:
    """Both configurations loaded at once and measured in alternation, so that a change in the
    machine's load during the run weighs on both columns alike."""
    path = load_settings().embedded_model_path
    backends = {
        slots: LlamaCppBackend(
            LocalModelConfig(
                name="bench", path=path, context_length=1024, slots=slots, threads=threads
            )
        )
        for slots in SLOTS
    }
    figures: dict[tuple[int, int], tuple[float, list[str]]] = {}
    try:
        for backend in backends.values():
            await backend.start()
            await run(backend, 1, 4)  # warm-up: first-use allocations out of the figures
        for streams in STREAMS:
            for slots, backend in backends.items():
                figures[(slots, streams)] = await run(backend, streams, tokens)
    finally:
        for backend in backends.values():
            await backend.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64, help="max_tokens of each stream")
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads")
    args = parser.parse_args()
    before = os.getloadavg()[0]
    figures = asyncio.run(measure(args.tokens, args.threads))
    after = os.getloadavg()[0]
    one, many = SLOTS
    print(f"decode tok/s, all streams together ({args.tokens} tokens each, greedy)")
    print(
        f"{'streams':>7} {f'slots={one}':>10} {f'slots={many}':>10} {'ratio':>6} {'same text':>9}"
    )
    for streams in STREAMS:
        alone, alone_texts = figures[(one, streams)]
        batched, batched_texts = figures[(many, streams)]
        same = sum(a == b for a, b in zip(alone_texts, batched_texts, strict=True))
        print(
            f"{streams:>7} {alone:>10.1f} {batched:>10.1f} {batched / alone:>6.2f} "
            f"{f'{same}/{streams}':>9}"
        )
    print(f"load average (1 min): {before:.1f} before, {after:.1f} after; cpus: {os.cpu_count()}")


if __name__ == "__main__":
    main()
