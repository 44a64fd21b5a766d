"""Benchmark: corral's batched decode step against llama.cpp's `llama_decode` alone, in one run.

    PYTHONPATH=src:bench .venv/bin/python bench/batching_steps.py [--streams 16] [--rounds 2]

Issue 25 compares corral with llama-server over HTTP, where this shared 2-core machine drifts
by tens of percent between minutes. This looks below HTTP: N greedy streams (each a ~200-token
prompt and 128 generated tokens) go through `LlamaCppBackend` with `slots = N`, every
`llama_decode` of its scheduler timed; then, in the same process, decode_scaling.py's bare
decode of N sequences at the mean position corral's full-batch steps had. It prints corral's
median full-batch step, the median gap between two such steps (corral's own work between
decodes: sampling, detokenising, handing tokens over), the bare step and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import time
from typing import Any

import llama_cpp

from corral.backends.base import ChatMessage, GenerationRequest, SamplingParams
from corral.backends.llama_cpp import LlamaCppBackend
from corral.settings import LocalModelConfig
from decode_scaling import context, step_seconds
from local_setup import model_path

NOTES = (
    "the keeper of the old lighthouse wrote in his log every night about the ships the storms "
    "the gulls and the long grey sea"
)
RAMBLE = "Then write a very long story about these notes, chapter by chapter, in great detail."


def prompt(i: int) -> str:
    words = NOTES.split(" ")
    return " ".join(words[(i + k) % len(words)] for k in range(150)) + ". " + RAMBLE


class Timed:
    """`llama_decode` wrapped: each call's tokens, mean position, start and duration."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, float, float, float]] = []
        self._decode = llama_cpp.llama_decode

    def __call__(self, ctx: Any, batch: Any) -> int:
        began = time.perf_counter()
        status: int = self._decode(ctx, batch)
        n = batch.n_tokens
        position = sum(batch.pos[i] for i in range(n)) / max(n, 1)
        self.calls.append((n, position, began, time.perf_counter() - began))
        return status


async def corral_steps(streams: int, rounds: int, threads: int) -> tuple[float, float, float]:
    """(median full-batch step s, median gap s, mean position) over the rounds."""
    timed = Timed()
    llama_cpp.llama_decode = timed  # the scheduler calls it through the module
    config = LocalModelConfig(
        name="bench", path=model_path(), context_length=2048, slots=streams, threads=threads
    )
    backend = LlamaCppBackend(config)
    await backend.start()
    try:
        steps, gaps, positions = [], [], []
        for r in range(rounds):
            timed.calls.clear()
            requests = [
                GenerationRequest(
                    f"s{i}",
                    SamplingParams(max_tokens=128, temperature=0),
                    messages=(ChatMessage("user", prompt(i + 1000 * r)),),
                )
                for i in range(streams)
            ]
            await asyncio.gather(*(backend.generate(request) for request in requests))
            calls = timed.calls
            full = [c for c in calls if c[0] == streams]
            steps += [c[3] for c in full]
            positions += [c[1] for c in full]
            gaps += [
                b[2] - a[2] - a[3] for a, b in itertools.pairwise(calls) if a[0] == b[0] == streams
            ]
    finally:
        llama_cpp.llama_decode = timed._decode
        await backend.close()
    return statistics.median(steps), statistics.median(gaps), statistics.mean(positions)


def bare_step(streams: int, position: int, threads: int) -> float:
    model = llama_cpp.llama_model_load_from_file(
        str(model_path()).encode(), llama_cpp.llama_model_default_params()
    )
    ctx = context(model, threads)
    try:
        return step_seconds(ctx, streams, position)
    finally:
        llama_cpp.llama_free(ctx)
        llama_cpp.llama_model_free(model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()}", flush=True)
    step, gap, position = asyncio.run(corral_steps(args.streams, args.rounds, args.threads))
    bare = bare_step(args.streams, round(position), args.threads)
    print(f"{'':40} {'corral':>8} {'bare':>8} {'ratio':>6}")
    print(
        f"{f'{args.streams} sequences: step ms':40} {step * 1000:>8.1f} {bare * 1000:>8.1f} "
        f"{step / bare:>6.2f}"
    )
    print(f"{'gap between full steps (ms)':40} {gap * 1000:>8.2f}")
    print(
        f"mean position of corral's full steps: {position:.0f} (the bare decode's); threads "
        f"{args.threads}; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}; "
        f"load after: {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
