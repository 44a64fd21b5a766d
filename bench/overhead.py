"""Benchmark: what authentication, entitlement, admission and settlement add to one request.

Target (from the issue): against an instant fake backend, the pipeline's steps together add at
most 1 ms median latency per request at 200 requests/s, on SQLite and on PostgreSQL + Redis.

Method. corral's real services are built in process (`build_services`, as `corral serve` does,
with the account directory's revision poll running) over one model whose backend answers at
once with a fixed result (`InstantBackend` below). A tenant has a monthly budget and a key with
requests- and tokens-per-minute limits, so every request takes the whole metered path:

    authenticate (key -> principal, HMAC check) -> resolve (catalog + entitlement)
    -> admission (count prompt tokens, GCRA rate limits, budget reservation in the database)
    -> backend -> settlement (ledger row + daily rollup + month spend + release, one transaction;
       token-limit correction)

Each request times (a) the full path, `authenticate` + `gateway.resolve` + `gateway.generate`,
and right after it (b) a bare `backend.generate` of the same request, in the same task, so both
see the same machine load. Overhead = (a) - (b) per request. Two phases per configuration, after
a `--warmup` that is not measured:

* one at a time (`--unloaded` requests): each starts when the previous one has ended, so the
  figure is the path's own cost, without queueing;
* open loop at `--rate` (default 200/s) for `--seconds`: request i starts at t0 + i / rate
  whatever earlier requests are doing (asyncio tasks). If the path cannot complete `--rate`
  requests a second, requests queue and the latency grows with the backlog; the table's
  "done/s" (requests completed per second of the phase) shows whether it kept up.

The table shows medians and p99s, and the median overhead against the 1 ms target as a ratio
(<= 1.0 meets it). Afterwards the ledger must hold one row per request sent and no budget hold
may be left, or the run fails.

Configurations: SQLite (a temporary CORRAL_HOME, the in-process rate limiter) and PostgreSQL +
Redis (a temporary database created and dropped here, a Redis key namespace of this run's own,
deleted afterwards). PostgreSQL and Redis are this machine's (127.0.0.1:5432 and :6379);
`CORRAL_BENCH_POSTGRES` / `CORRAL_BENCH_REDIS` point elsewhere.

Run: `.venv/bin/python bench/overhead.py` (also part of `make bench`); options `--rate`,
`--unloaded`, `--seconds`, `--warmup`, `--only sqlite|postgresql`. Results: the table, and
`bench/results/overhead.json`. About a minute in all (longer when the path cannot keep up).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from corral.accounts.admin import KeySpec
from corral.backends.base import (
    BackendHealth,
    ChatMessage,
    EmbeddingRequest,
    EmbeddingResult,
    Finished,
    GenerationRequest,
    GenerationResult,
    SamplingParams,
    StreamEvent,
    TextDelta,
    Usage,
)
from corral.catalog import Catalog, ModelEntry
from corral.pipeline.gateway import RequestContext
from corral.services import Services, build_services
from corral.settings import load_settings
from corral.storage.tables import BudgetMonth, UsageRecord

TARGET_MS = 1.0
MODEL = "instant"
PROMPT = "Summarise the feed for me in three short points please"
PROMPT_TOKENS, COMPLETION_TOKENS = len(PROMPT.split()), 4
POSTGRES_SERVER = os.environ.get(
    "CORRAL_BENCH_POSTGRES", "postgresql://root@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("CORRAL_BENCH_REDIS", "redis://127.0.0.1:6379/0")
RESULTS_FILE = Path(__file__).resolve().parent / "results" / "overhead.json"


class InstantBackend:
    """A backend that answers at once: a fixed 4-token result, no I/O, no waiting."""

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        request.meter.prompt_tokens = PROMPT_TOKENS
        request.meter.completion_tokens = COMPLETION_TOKENS
        return GenerationResult("one two three four", "stop", Usage(PROMPT_TOKENS, 4))

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        async def events() -> AsyncIterator[StreamEvent]:
            yield TextDelta("one two three four")
            yield Finished("stop", Usage(PROMPT_TOKENS, COMPLETION_TOKENS))

        return events()

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResult:
        return EmbeddingResult([[0.0] for _ in request.inputs], len(request.inputs))

    async def count_prompt_tokens(self, request: GenerationRequest) -> int:
        return PROMPT_TOKENS

    def health(self) -> BackendHealth:
        return BackendHealth(True, "instant")

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


# -- configurations ------------------------------------------------------------------------------


@contextmanager
def sqlite_settings() -> Iterator[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="corral-bench-") as home:
        yield {"home": Path(home)}


@contextmanager
def postgres_redis_settings() -> Iterator[dict[str, Any]]:
    """A database and a Redis namespace of this run's own, both removed afterwards."""
    name = f"corral_bench_{secrets.token_hex(4)}"
    namespace = f"corral-bench-{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory(prefix="corral-bench-") as home:
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        base = POSTGRES_SERVER.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        try:
            yield {
                "home": Path(home),
                "database_url": f"{base}/{name}",
                "redis_url": REDIS_URL,
                "redis_namespace": namespace,
            }
        finally:
            with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(f"{namespace}:*"))
            if keys:
                client.delete(*keys)
            client.close()


CONFIGS = {"sqlite": sqlite_settings, "postgresql+redis": postgres_redis_settings}


# -- the run -------------------------------------------------------------------------------------


@dataclass
class Samples:
    full_ms: list[float] = field(default_factory=list)
    bare_ms: list[float] = field(default_factory=list)
    late_ms: list[float] = field(default_factory=list)
    """How far behind its scheduled start each request began (the driver's own lag)."""
    completed_per_s: float = 0.0


@dataclass
class Target:
    """One configuration's services, the instant backend, a tenant key, request numbers."""

    services: Services
    backend: InstantBackend
    key: str
    ids: Iterator[int] = field(default_factory=itertools.count)


def build(overrides: dict[str, Any]) -> Target:
    """corral's services over the instant model, and a tenant key that takes every step."""
    backend = InstantBackend()
    entry = ModelEntry(
        id=MODEL,
        tier="premium",
        licence=None,
        context_length=4096,
        created=0,
        owned_by="bench",
        backend=backend,
        prices=(2_500_000, 10_000_000),
    )
    settings = load_settings(embedded_model=False, **overrides)
    services = build_services(settings, SecretStr("sk-bench-admin"), catalog=Catalog([entry]))
    services.accounts.admin.create_tenant("bench", budget_micros=1_000_000_000_000)
    spec = KeySpec(name="bench", rpm=1_000_000, tpm=1_000_000_000)
    _, key = services.accounts.admin.create_key("bench", spec)
    return Target(services, backend, key)


async def one_request(target: Target, samples: Samples | None) -> None:
    """(a) the full path, then (b) the bare backend on the same request."""
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
    await services.gateway.generate(ctx, model, request)
    full = time.perf_counter()
    await target.backend.generate(request)
    bare = time.perf_counter()
    if samples is not None:
        samples.full_ms.append((full - started) * 1000)
        samples.bare_ms.append((bare - full) * 1000)


async def one_at_a_time(target: Target, count: int) -> Samples:
    """Unloaded: each request starts when the previous one has ended (no queueing)."""
    samples = Samples()
    started = time.perf_counter()
    for _ in range(count):
        await one_request(target, samples)
    samples.completed_per_s = count / (time.perf_counter() - started)
    return samples


async def paced(target: Target, rate: float, seconds: float, measure: bool = True) -> Samples:
    """Open loop: request i starts at t0 + i / rate, whatever earlier requests are doing."""
    samples = Samples()
    tasks = []
    t0 = time.perf_counter()
    for i in range(int(rate * seconds)):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        samples.late_ms.append(max(0.0, time.perf_counter() - due) * 1000)
        tasks.append(asyncio.create_task(one_request(target, samples if measure else None)))
    await asyncio.gather(*tasks)
    samples.completed_per_s = len(tasks) / (time.perf_counter() - t0)
    return samples


def billed(services: Services) -> tuple[int, int]:
    """(ledger rows, budget still reserved): every request billed, every budget slice back."""
    with services.db.read() as session:
        rows = session.scalar(select(func.count()).select_from(UsageRecord)) or 0
        reserved = session.scalar(select(func.sum(BudgetMonth.reserved_micros))) or 0
    return rows, int(reserved)


async def run_config(name: str, opts: argparse.Namespace) -> dict[str, Any]:
    with CONFIGS[name]() as overrides:
        target = build(overrides)
        watcher = asyncio.create_task(target.services.directory.watch())
        try:
            await paced(target, opts.rate, opts.warmup, measure=False)
            unloaded = await one_at_a_time(target, opts.unloaded)
            loaded = await paced(target, opts.rate, opts.seconds)
            await target.services.reservations.give_back_all()  # as the server does when idle
            rows, reserved = await target.services.db.run(billed, target.services)
        finally:
            watcher.cancel()
            with suppress(asyncio.CancelledError):
                await watcher
            target.services.db.close()
    sent = next(target.ids)
    if rows != sent or reserved != 0:
        raise SystemExit(f"{name}: {rows} ledger rows for {sent} requests, {reserved} held")
    return {
        "unloaded": summarise(unloaded),
        "paced": {"rate_per_s": opts.rate, "seconds": opts.seconds, **summarise(loaded)},
        "ledger_rows": rows,
    }


def summarise(samples: Samples) -> dict[str, Any]:
    overhead = [full - bare for full, bare in zip(samples.full_ms, samples.bare_ms, strict=True)]
    median = statistics.median(overhead)
    return {
        "requests": len(samples.full_ms),
        "completed_per_s": round(samples.completed_per_s, 1),
        "full_path": describe(samples.full_ms),
        "bare_backend": describe(samples.bare_ms),
        "overhead": describe(overhead),
        **({"driver_lag": describe(samples.late_ms)} if samples.late_ms else {}),
        "target_ms": TARGET_MS,
        "ratio_to_target": round(median / TARGET_MS, 3),
        "meets_target": median <= TARGET_MS,
    }


def describe(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(values), 4),
        "p99_ms": round(statistics.quantiles(values, n=100)[98], 4),
    }


# -- output --------------------------------------------------------------------------------------


def print_table(results: dict[str, dict[str, Any]]) -> None:
    table = Table(title=f"What the pipeline adds per request (target <= {TARGET_MS:g} ms median)")
    columns = ("configuration", "load", "done/s", "full path", "bare backend", "overhead", "ratio")
    for column in columns:
        table.add_column(column, justify="left" if column in columns[:2] else "right")
    for name, result in results.items():
        for load, r in (
            ("one at a time", result["unloaded"]),
            (f"{result['paced']['rate_per_s']:g}/s open loop", result["paced"]),
        ):
            table.add_row(
                name,
                load,
                f"{r['completed_per_s']:g}",
                cell(r["full_path"]),
                cell(r["bare_backend"]),
                cell(r["overhead"]),
                f"{r['ratio_to_target']:.2f} ({'meets' if r['meets_target'] else 'misses'})",
            )
    console = Console(width=120)
    console.print(table)
    console.print(
        "ms, median / p99. overhead = full path - bare backend, per request; ratio = median "
        f"overhead / {TARGET_MS:g} ms. done/s: requests completed per second of the phase "
        "(below the offered rate: the path could not keep up, and requests queued)."
    )
    for name, result in results.items():
        lag = result["paced"]["driver_lag"]
        console.print(
            f"{name}: driver lag median {lag['median_ms']:.3f} ms, p99 {lag['p99_ms']:.3f} ms; "
            f"{result['ledger_rows']} ledger rows = requests sent; all budget holds released"
        )


def cell(stats: dict[str, float]) -> str:
    return f"{stats['median_ms']:.3f} / {stats['p99_ms']:.3f}"


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "event_loop": "asyncio (default)",
    }


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured per configuration")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured, before each")
    parser.add_argument("--unloaded", type=int, default=300, help="requests sent one at a time")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    return parser.parse_args(argv)


async def run(opts: argparse.Namespace) -> dict[str, dict[str, Any]]:
    names = [n for n in CONFIGS if opts.only is None or n.startswith(opts.only)]
    results = {}
    for name in names:
        print(f"{name}: {opts.warmup:g} s warm-up, then {opts.seconds:g} s at {opts.rate:g}/s ...")
        results[name] = await run_config(name, opts)
    return results


def main(argv: list[str] | None = None) -> int:
    opts = parse(argv)
    results = asyncio.run(run(opts))
    print_table(results)
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(
        json.dumps({"target_ms": TARGET_MS, "machine": machine(), **results}, indent=2) + "\n"
    )
    print(f"results written to {RESULTS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
