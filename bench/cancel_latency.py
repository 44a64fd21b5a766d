"""Benchmark: how soon a request cancelled while its long prompt is read frees the model.

    PYTHONPATH=src .venv/bin/python bench/cancel_latency.py [--tokens 3000] [--after 3]

On the embedded model (context 4096, as served: q8_0 cache, flash attention), a prompt of
`--tokens` tokens is read once to the end (the reference: what a cancel used to cost at worst
with the prompt in one decode), then cancelled `--after` seconds in, with llama.cpp's abort
callback (`abort.AbortSwitch`) and without it (the decode under way runs to its end). Both
paths: one sequence (`engine.generate`, prompt decoded in steps of `engine.PROMPT_STEP`) and
the batch scheduler (2 slots, one step of up to 1024 prompt tokens). Printed: seconds from the
cancel to the request's end, CPU seconds of the process, and the load average.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from unittest import mock

import llama_cpp

from corral.backends.base import SamplingParams, UsageMeter
from corral.backends.llama_cpp import engine, loader
from corral.backends.llama_cpp.abort import AbortSwitch
from corral.backends.llama_cpp.scheduler import Scheduler
from corral.backends.llama_cpp.sequence import Sequence
from corral.cancellation import Cancellation
from corral.settings import LocalModelConfig, load_settings

CONTEXT = 4096
PARAMS = SamplingParams(max_tokens=1, temperature=0)


@contextlib.contextmanager
def without_abort() -> Iterator[None]:
    with mock.patch.object(AbortSwitch, "watching", lambda self, flags: contextlib.nullcontext()):
        yield


def timed(run: Callable[[Cancellation], None], after: float | None) -> tuple[float, float]:
    """Seconds from the cancel (from the start if none) to the end, and CPU seconds."""
    cancel = Cancellation()
    cpu, start = time.process_time(), time.monotonic()
    cancelled_at = start
    if after is not None:
        timer = threading.Timer(after, cancel.set)
        timer.start()
        cancelled_at = start + after
    run(cancel)
    return time.monotonic() - cancelled_at, time.process_time() - cpu


def one_sequence(llama: llama_cpp.Llama, prompt: list[int]) -> Callable[[Cancellation], None]:
    abort = AbortSwitch(llama.ctx)

    def run(cancel: Cancellation) -> None:
        llama.n_tokens = 0  # nothing cached: the whole prompt is read
        engine.generate(
            llama, prompt, PARAMS, None, cancel, lambda _: None, UsageMeter(), False, abort
        )

    return run


def batched(scheduler: Scheduler, prompt: list[int]) -> Callable[[Cancellation], None]:
    def run(cancel: Cancellation) -> None:
        prompt[1] = (prompt[1] + 1) % 1000 + 1000  # no prefix found in the cache
        sequence = Sequence(list(prompt), PARAMS, None, cancel, lambda _: None, UsageMeter())
        scheduler.submit(sequence).result()

    return run


def report(name: str, run: Callable[[Cancellation], None], after: float) -> None:
    whole = timed(run, None)
    aborted = timed(run, after)
    with without_abort():
        waited = timed(run, after)
    print(
        f"{name}: whole prompt {whole[0]:.1f} s ({whole[1]:.1f} CPU s); cancelled at {after} s: "
        f"ended {aborted[0]:.2f} s later with the abort callback ({aborted[1]:.1f} CPU s), "
        f"{waited[0]:.2f} s later without ({waited[1]:.1f} CPU s); "
        f"ratio {waited[0] / max(aborted[0], 1e-3):.0f}; load {os.getloadavg()}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=3000)
    parser.add_argument("--after", type=float, default=3.0)
    args = parser.parse_args()
    config = LocalModelConfig(name="smol", path=load_settings().embedded_model_path, threads=2)
    llama = loader.open_generator(config, CONTEXT)
    text = "The harbour master wrote a long letter about the tides and the moorings. " * 400
    prompt = llama.tokenize(text.encode(), add_bos=True, special=False)[: args.tokens]
    print(f"load before: {os.getloadavg()}", flush=True)
    report("one sequence", one_sequence(llama, prompt), args.after)
    scheduler = Scheduler(llama, 2, kv_cells=2 * CONTEXT, prompt_budget=1024)
    try:
        report("batched, 1024 prompt tokens a step", batched(scheduler, prompt), args.after)
    finally:
        scheduler.close()
    llama.close()


if __name__ == "__main__":
    main()
