"""The rounds of bench/local_inference.py: each server started, measured once on every cell and
stopped, in turns; a round disturbed by other processes is run again.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openai import AsyncOpenAI

from local_client import Bench, story
from local_measure import (
    CONCURRENT_STREAMS,
    Samples,
    check_counts,
    concurrent_streams,
    prompt_processing,
    single_stream,
    time_to_first_token,
)
from local_setup import LocalServer, Options, corral_server, corral_source_digest, reference_server
from procs import CpuMeter, running, tree_memory_mb

REQUEST_TIMEOUT_S = 300.0
NOISY_SHARE = 0.05
ROUND_ATTEMPTS = 3


@dataclass
class Round:
    """One server's figures from one round (one start, one measurement of everything, stop)."""

    samples: Samples = field(default_factory=dict)
    token_check: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    foreign: float = 0.0

    def add(self, values: Samples) -> None:
        for key, found in values.items():
            self.samples.setdefault(key, []).extend(found)


@dataclass
class Collected:
    """Everything measured on one server, over all rounds."""

    server: LocalServer
    rounds: list[Round] = field(default_factory=list)

    def samples(self) -> Samples:
        merged = Round()
        for kept in self.rounds:
            merged.add(kept.samples)
        return merged.samples

    def medians(self) -> dict[str, float]:
        return {k: statistics.median(v) for k, v in self.samples().items() if v}

    def token_check(self) -> dict[str, Any]:
        return next(r.token_check for r in self.rounds if r.token_check)


async def measure_round(bench: Bench, opts: Options, index: int, out: Round) -> None:
    await bench.stream(story(), bench.max_tokens)  # warm-up
    if index == 0:
        out.token_check = await check_counts(bench)
    out.add(await single_stream(bench))
    out.add(await concurrent_streams(bench))
    out.add(await time_to_first_token(bench, index))
    out.add(await prompt_processing(bench, opts.prompts[index]))


async def measure_server(server: LocalServer, opts: Options, index: int, out: Round) -> None:
    async with AsyncOpenAI(
        base_url=server.spec.base_url + "/v1",
        api_key=server.api_key,
        timeout=REQUEST_TIMEOUT_S,
        max_retries=0,
    ) as client:
        await measure_round(
            Bench(server.name, client, opts.max_tokens, server.token_source), opts, index, out
        )


def run_round(server: LocalServer, opts: Options, index: int, log: Path) -> Round:
    """Start one server, measure it once on everything, stop it."""
    out = Round()
    with running(server.spec, log) as started:
        time.sleep(0.5)  # let the process settle before sampling its idle footprint
        idle = tree_memory_mb(started.pid)
        meter = CpuMeter(started.pid)
        asyncio.run(measure_server(server, opts, index, out))
        out.foreign = meter.foreign_share()
        after = tree_memory_mb(started.pid)
    ready_s = started.ready_s
    out.add({"ready_s": [ready_s], "idle_rss_mb": [idle["rss_mb"]]})
    out.add({"rss_after_round_mb": [after["rss_mb"]], "foreign_cpu_pct": [out.foreign * 100]})
    out.info = {"ready_s": ready_s, "idle_memory": idle, "memory_after": after}
    return out


def run_quiet_round(out: Collected, opts: Options, index: int, workdir: Path) -> None:
    """A round, run again (at most ROUND_ATTEMPTS times) while other processes disturb it."""
    best: Round | None = None
    for attempt in range(1, ROUND_ATTEMPTS + 1):
        log = workdir / f"{out.server.name}-{index}-{attempt}.log"
        result = run_round(out.server, opts, index, log)
        print_round(out.server.name, index, result)
        if best is None or result.foreign < best.foreign:
            best = result
        if result.foreign <= NOISY_SHARE:
            break
        print(f"    noisy (attempt {attempt} of {ROUND_ATTEMPTS}); the quietest attempt is kept")
    assert best is not None
    out.rounds.append(best)


def print_round(name: str, index: int, result: Round) -> None:
    last = {k: v[-1] for k, v in result.samples.items() if v}
    print(
        f"  round {index + 1} {name}: ready {last['ready_s']:.2f} s, idle RSS "
        f"{last['idle_rss_mb']:.0f} MB, decode {last['decode_tps']:.1f} tok/s, "
        f"{CONCURRENT_STREAMS} streams {last['aggregate_tps']:.1f} tok/s, "
        f"TTFT {last['ttft_ms']:.0f} ms, prompt {last['prompt_tps']:.0f} tok/s, "
        f"other processes {result.foreign:.0%} of the CPUs",
        flush=True,
    )


def run_rounds(opts: Options, path: Path) -> tuple[dict[str, Collected], list[str]]:
    """All rounds; also corral's source digest before the run and after every round."""
    digests = [corral_source_digest()]
    with tempfile.TemporaryDirectory(prefix="corral-bench-") as tmp:
        workdir = Path(tmp)
        servers = [
            corral_server(workdir, path, opts),
            reference_server(workdir, path, opts.threads),
        ]
        for server in servers:
            print(f"{server.name}: {' '.join(server.spec.command)}")
        collected = {server.name: Collected(server) for server in servers}
        for index in range(opts.repeats):
            for server in servers if index % 2 == 0 else servers[::-1]:
                run_quiet_round(collected[server.name], opts, index, workdir)
                digests.append(corral_source_digest())
    return collected, digests
