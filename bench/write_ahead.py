"""Benchmark: what a stream's write-ahead bill (`metering.pending`) adds before its first byte.

Method. bench/overhead.py's in-process services over its instant backend (a tenant with a
budget, a key with rate limits: the whole metered path). Each stream is admitted, answered and
read to its end, one at a time; the time to its first event and to its end are recorded. The
same run is made with the write-ahead bill on (as served) and off (the settlement without its
pending charges, i.e. before issue 28 item 15), alternating in blocks of 50 so both see the
same machine drift. The process's CPU time per stream (all its threads: the database's too) is
less swayed by a busy machine than the latencies. Afterwards no bill may be left and every
stream must be in the ledger.

Run: `PYTHONPATH=src .venv/bin/python bench/write_ahead.py` (`--streams`, `--only`).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from sqlalchemy import func, select

from corral.backends.base import ChatMessage, GenerationRequest, SamplingParams
from corral.pipeline.gateway import RequestContext
from corral.storage.tables import PendingCharge, UsageRecord
from overhead import CONFIGS, MODEL, PROMPT, Target, build  # the script's folder: bench/


async def one_stream(target: Target) -> tuple[float, float]:
    """(ms to the first event, ms to the end) of one metered stream."""
    services = target.services
    request = GenerationRequest(
        request_id=f"req_{next(target.ids)}",
        params=SamplingParams(max_tokens=16),
        messages=(ChatMessage("user", PROMPT),),
    )
    started = time.perf_counter()
    principal = await services.authenticator.authenticate("Bearer " + target.key)
    ctx = RequestContext(request.request_id, principal)
    model = await services.gateway.resolve(ctx, MODEL)
    events = await services.gateway.stream(ctx, model, request)
    first = None
    async for _ in events:
        first = first or time.perf_counter()
    ended = time.perf_counter()
    assert first is not None
    return (first - started) * 1000, (ended - started) * 1000


async def run_config(name: str, streams: int) -> None:
    with CONFIGS[name]() as overrides:
        target = build(overrides)
        settlement = target.services.gateway._settlement  # the bench switches it, as a test would
        pending = settlement._pending
        runs: dict[str, list[tuple[float, float]]] = {"on": [], "off": []}
        cpu: dict[str, float] = {"on": 0.0, "off": 0.0}
        for _ in range(10):
            await one_stream(target)  # warm-up
        for block in range(streams // 50):
            mode = "on" if block % 2 == 0 else "off"
            settlement._pending = pending if mode == "on" else None
            used = time.process_time()
            runs[mode] += [await one_stream(target) for _ in range(50)]
            cpu[mode] += time.process_time() - used
        await asyncio.sleep(0.5)  # the background deletions of the last bills
        with target.services.db.read() as session:
            left = session.scalar(select(func.count()).select_from(PendingCharge))
            billed = session.scalar(select(func.count()).select_from(UsageRecord))
        await target.services.ledger.aclose()
        target.services.db.close()
    print(f"{name}: {billed} streams billed, {left} bills left")
    for mode, samples in runs.items():
        firsts, ends = [s[0] for s in samples], [s[1] for s in samples]
        print(
            f"  write-ahead {mode:3}: first event median {statistics.median(firsts):.3f} ms "
            f"p99 {sorted(firsts)[int(len(firsts) * 0.99)]:.3f} ms; "
            f"end median {statistics.median(ends):.3f} ms; "
            f"CPU {cpu[mode] / len(samples) * 1000:.3f} ms a stream (all threads)"
        )
    assert left == 0, "a settled stream left its bill"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=600, help="streams per configuration")
    parser.add_argument("--only", choices=sorted(CONFIGS), help="one configuration")
    opts = parser.parse_args()
    for name in [opts.only] if opts.only else list(CONFIGS):
        asyncio.run(run_config(name, opts.streams))


if __name__ == "__main__":
    main()
