"""Benchmark: corral side by side with the LiteLLM proxy, in front of the same instant upstream.

Method. An instant fake OpenAI-compatible upstream (bench/fake_upstream.py, its own process) is
loaded directly first, then through each gateway in turn, by the same load generator: `wrk`
(Debian's package, one thread) with bench/wrk/chat.lua, which POSTs one short chat completion
with a bearer key and counts a response as an error unless it is 2xx and, for streams, complete
(ends in `data: [DONE]`; wrk times a streamed response to its last byte). Each cell is one
(streamed or not, concurrency 1, 16 or 64) run of `--seconds`, after a `--warmup` per server.
All the servers run at once (an idle one takes next to no CPU), and each cell is measured
against every server in turn before the next cell: this VM's speed drifts by tens of percent
over minutes, and cells measured side by side see the same drift, so their ratios hold.

Gateways:
* corral, SQLite: `corral serve` with one `openai-compatible` model (tier premium, priced) on
  the fake; a tenant with a monthly budget and data policy `allow`, and a key with requests- and
  tokens-per-minute limits, so every request is authenticated, admitted (rate limits, budget
  reservation) and settled (ledger row, rollups) before its answer leaves;
* corral, SQLite, partner tier: the same model as a `partner` (a third party) and the tenant on
  `pseudonymize`, so every request also goes through the privacy guard (scan, mask, restore)
  and writes its audit row (with the usage record, in one transaction);
* corral, PostgreSQL + Redis: the same on a temporary database (created and dropped here) and a
  Redis namespace of this run's own (deleted afterwards), one worker, then `--workers 2`;
* LiteLLM proxy: `pip install 'litellm[proxy]'` into bench/.venvs/litellm (git-ignored; done
  on first use), one model on the same fake in a config.yaml, the master key from the
  environment (`LITELLM_MASTER_KEY`), no database, its default single worker.

CPUs. This machine has 2 CPUs that the load generator, the fake and the gateway share, and on
this VM a message between processes on different CPUs costs far more than one on the same CPU:
waking the other, idle, virtual CPU takes a hundred microseconds and more (the run measures
both round trips first and prints them). So by default (`--layout shared`) the load and the
gateway's one worker share one CPU: wrk, the fake and the gateway all pinned with `taskset` to
CPU 1, the same way for both gateways, so the gateway pays for the CPU the load generator and
the fake take beside it. PostgreSQL and Redis, which serve corral (LiteLLM runs without a
database) and would be other machines in a deployment, get CPU 0. corral `--workers 2` gets
both CPUs, shared with all the rest. `--layout split` is the other arrangement: wrk, the fake,
PostgreSQL and Redis on CPU 0 and a gateway's one worker on CPU 1, where every request pays
for four cross-CPU wake-ups. Each cell also records the CPU (in cores) taken by the gateway,
the fake and wrk, and by everything else on the machine ("other": PostgreSQL and Redis, idle
servers, the kernel), to show whether a gateway was CPU-bound and whether the run was
disturbed. wrk and the fake run as SCHED_BATCH (`chrt -b`), so that waking them does not
preempt the gateway in the middle of a request: what loads a server should disturb it as little
as it can.

Reported per cell: requests/s, p50 and p99 latency, latency added over the fake alone at the
same concurrency (p50 and p99 differences), errors; per gateway, RSS after its run (the whole
process tree, and its largest process: one worker). Then corral/LiteLLM ratios next to the
issue's targets. Results: the table, bench/results/gateway.json, gateway.md and gateway.png
(drawn with matplotlib by the LiteLLM venv's Python, never a corral dependency).

Run: `.venv/bin/python bench/gateway.py` (about 9 minutes); `--quick` (2 s cells, about 3
minutes), `--seconds`, `--warmup`,
`--only fake,corral-sqlite,corral-partner,corral-pg,corral-pg-2w,litellm`,
`--layout shared|split`, `--baseline SRC` (another checkout's `src/`, e.g. a git worktree of
an older commit, served as `corral-baseline` beside corral-sqlite in the same run: before and
after a change), `--profile` (py-spy, from the LiteLLM venv, samples each gateway during its
c=16 cells and the functions most on its stacks are printed and stored), `--no-write`.
PostgreSQL and Redis are this machine's (`make services`); `CORRAL_BENCH_POSTGRES` /
`CORRAL_BENCH_REDIS` point elsewhere.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import redis

import gateway_report as report
from gateway_load import (
    Load,
    loopback_round_trip_us,
    profile_top,
    profiling,
    repin,
    run_wrk,
    services_pinned_now,
)
from procs import (
    ServerSpec,
    clean_env,
    cpu_seconds,
    free_port,
    machine_busy_seconds,
    memory,
    running,
)

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
LITELLM_VENV = BENCH / ".venvs" / "litellm"
MODEL = "fake-mini"
ADMIN_KEY = "bench-admin-" + secrets.token_hex(8)
LITELLM_KEY = "sk-bench-" + secrets.token_hex(8)
POSTGRES_SERVER = os.environ.get(
    "CORRAL_BENCH_POSTGRES", "postgresql://root@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("CORRAL_BENCH_REDIS", "redis://127.0.0.1:6379/0")
DATABASE_SERVERS = ("postgres", "redis-server")
EVERY_CPU = f"0-{(os.cpu_count() or 1) - 1}"
CONCURRENCY = (1, 16, 64)
PROFILED = 16  # with --profile, the cells at this concurrency run under py-spy
TARGETS = ("fake", "corral-sqlite", "corral-partner", "corral-pg", "corral-pg-2w", "litellm")
BASELINE = "corral-baseline"
"""With `--baseline SRC`: corral, SQLite, as another checkout's `src` serves it."""
LABELS = {
    "fake": "fake upstream (direct)",
    "corral-sqlite": "corral, SQLite",
    "corral-partner": "corral, SQLite, partner tier, guard on",
    "corral-pg": "corral, PostgreSQL+Redis",
    "corral-pg-2w": "corral, PostgreSQL+Redis, --workers 2",
    "litellm": "LiteLLM proxy",
    BASELINE: "corral, SQLite, baseline checkout",
}


@dataclass(frozen=True)
class Layout:
    """Which CPUs each party may use, for one worker and for `--workers 2`."""

    name: str
    load: str
    """wrk and the fake upstream."""
    gateway: str
    services: str
    """PostgreSQL and Redis, while corral runs."""
    workers: str
    """corral `--workers 2`."""
    beside_workers: str
    """wrk, the fake, PostgreSQL and Redis while `--workers 2` runs."""

    def cpus(self, target: str) -> tuple[str, str, str]:
        """(load, gateway, services) CPUs while `target` runs."""
        if target.endswith("-2w"):
            return self.beside_workers, self.workers, self.beside_workers
        return self.load, self.gateway, self.services


LAYOUTS = {
    "shared": Layout(
        "shared", load="1", gateway="1", services="0", workers="0-1", beside_workers="0-1"
    ),
    "split": Layout(
        "split", load="0", gateway="1", services="0", workers="0-1", beside_workers="0"
    ),
}


@dataclass(frozen=True)
class Options:
    seconds: int
    warmup: int
    only: tuple[str, ...]
    work: Path
    layout: Layout
    py_spy: Path | None = None
    baseline: Path | None = None
    """Another checkout's `src`, served as the `corral-baseline` target."""


# -- the fake and the gateways -------------------------------------------------------------------


def fake_spec(cpus: str) -> ServerSpec:
    port = free_port()
    command = [
        "chrt",
        "-b",
        "0",
        sys.executable,
        str(BENCH / "fake_upstream.py"),
        "--port",
        str(port),
    ]
    return ServerSpec("fake", command, clean_env(), cpus, port, "/v1/models")


def corral_toml(fake_url: str, tier: str = "premium") -> str:
    return f"""embedded_model = false
[server]
log_level = "info"
[[models]]
name = "{MODEL}"
tier = "{tier}"
backend = "openai-compatible"
base_url = "{fake_url}/v1"
upstream_model = "{MODEL}"
input_price_per_mtok = 0.15
output_price_per_mtok = 0.6
"""


@contextmanager
def postgres_redis() -> Iterator[dict[str, str]]:
    """A database and a Redis namespace of this run's own, both removed afterwards."""
    name, namespace = f"corral_gw_{secrets.token_hex(4)}", f"corral-gw-{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_SERVER.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield {
            "CORRAL_DATABASE_URL": f"{base}/{name}",
            "CORRAL_REDIS_URL": REDIS_URL,
            "CORRAL_REDIS_NAMESPACE": namespace,
        }
    finally:
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"{namespace}*", count=1000):
            client.delete(key)
        client.close()


def corral_key(env: dict[str, str], config: Path, policy: str = "allow") -> str:
    """A tenant with a budget and a data policy, and a rate-limited key for it."""
    corral = str(Path(sys.executable).parent / "corral")
    tenant = [corral, "tenants", "create", "bench", "--budget", "1000000", "--policy", policy]
    key = [corral, "keys", "create", "--tenant", "bench", "--rpm", "10000000"]
    key += ["--tpm", "10000000000", "--json"]
    subprocess.run([*tenant, "--config", str(config)], env=env, check=True, capture_output=True)
    done = subprocess.run(
        [*key, "--config", str(config)], env=env, check=True, capture_output=True, text=True
    )
    secret: str = json.loads(done.stdout)["key"]
    return secret


@contextmanager
def corral_server(
    target: str, fake_url: str, work: Path, cpus: str, baseline: Path | None = None
) -> Iterator[tuple[ServerSpec, str]]:
    home = work / target
    home.mkdir()
    config = home / "corral.toml"
    partner = target == "corral-partner"
    config.write_text(corral_toml(fake_url, "partner" if partner else "premium"))
    env = clean_env() | {"CORRAL_HOME": str(home / "home"), "CORRAL_ADMIN_KEY": ADMIN_KEY}
    if target == BASELINE and baseline is not None:
        env["PYTHONPATH"] = str(baseline)  # its CLI and server, migrations included
    on_sqlite = target in ("corral-sqlite", "corral-partner", BASELINE)
    with _nothing() if on_sqlite else postgres_redis() as database:
        env |= database
        key = corral_key(env, config, "pseudonymize" if partner else "allow")
        port, workers = free_port(), 2 if target.endswith("-2w") else 1
        command = [str(Path(sys.executable).parent / "corral"), "serve", "--port", str(port)]
        command += ["--config", str(config), "--workers", str(workers)]
        yield ServerSpec(target, command, env, cpus, port, "/readyz"), key


@contextmanager
def _nothing() -> Iterator[dict[str, str]]:
    yield {}


def ensure_litellm(profile: bool) -> str:
    """The LiteLLM venv (made on first use; py-spy added for --profile) and litellm's version."""
    python = LITELLM_VENV / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if not (LITELLM_VENV / "bin" / "litellm").exists():
        print(f"Installing litellm[proxy] and matplotlib into {LITELLM_VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(LITELLM_VENV)], check=True)
        subprocess.run([*pip, "litellm[proxy]", "matplotlib"], check=True)
    if profile and not (LITELLM_VENV / "bin" / "py-spy").exists():
        subprocess.run([*pip, "py-spy"], check=True)
    version = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        check=True,
        capture_output=True,
        text=True,
    )
    return version.stdout.strip()


def litellm_spec(fake_url: str, work: Path, cpus: str) -> ServerSpec:
    config = work / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: openai/{MODEL}\n"
        f"      api_base: {fake_url}/v1\n"
        "      api_key: fake-key\n"
        "general_settings:\n"
        "  master_key: os.environ/LITELLM_MASTER_KEY\n"
    )
    env = clean_env() | {
        "LITELLM_MASTER_KEY": LITELLM_KEY,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of the price list from the internet
    }
    env.pop("DATABASE_URL", None)
    port = free_port()
    command = [str(LITELLM_VENV / "bin" / "litellm"), "--config", str(config)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
    return ServerSpec("litellm", command, env, cpus, port, "/health/liveliness")


# -- measuring -----------------------------------------------------------------------------------


def measure_cell(target: str, load: Load, gateway_pid: int | None, fake_pid: int) -> dict[str, Any]:
    """One wrk run, with the CPU each party took during it."""
    gateway = cpu_seconds(gateway_pid) if gateway_pid else 0.0
    fake, busy, own, wall = cpu_seconds(fake_pid), machine_busy_seconds(), os.times(), time.time()
    summary = run_wrk(load)
    wall = time.time() - wall
    own_s = sum(os.times()[:2]) - sum(own[:2])
    gateway = (cpu_seconds(gateway_pid) - gateway) if gateway_pid else 0.0
    fake = cpu_seconds(fake_pid) - fake
    other = machine_busy_seconds() - busy - gateway - fake - summary["cpu_s"] - own_s
    errors = sum(summary[k] for k in ("non2xx", "incomplete", "connect", "read", "write"))
    errors += summary["timeout"]
    return {
        "target": target,
        "stream": load.stream,
        "concurrency": load.concurrency,
        "requests": int(summary["requests"]),
        "rps": round(summary["requests"] / (summary["duration_us"] / 1e6), 1),
        "p50_ms": summary["p50_us"] / 1000 if summary["requests"] else None,
        "p99_ms": summary["p99_us"] / 1000 if summary["requests"] else None,
        "mean_ms": round(summary["mean_us"] / 1000, 3) if summary["requests"] else None,
        "errors": int(errors),
        "error_detail": {
            k: int(summary[k])
            for k in ("non2xx", "incomplete", "connect", "read", "write", "timeout")
        },
        "cpu_cores": {
            "gateway": round(gateway / wall, 2),
            "fake": round(fake / wall, 2),
            "wrk": round(summary["cpu_s"] / wall, 2),
            "other": round(max(0.0, other) / wall, 2),
        },
    }


@dataclass(frozen=True)
class Running:
    """A server under test: where to send, with which key, and its process."""

    target: str
    url: str
    key: str
    pid: int | None


def measure_all(servers: list[Running], fake_pid: int, opts: Options) -> list[dict[str, Any]]:
    """Every (stream, concurrency) cell, each one against every server in turn: this VM's speed
    drifts by tens of percent over minutes, and side by side cells see the same drift."""
    cells = []
    for stream in (False, True):
        for server in servers:
            place(server.target, fake_pid, opts.layout)
            load_cpus = opts.layout.cpus(server.target)[0]
            run_wrk(Load(server.url, MODEL, server.key, stream, 16, opts.warmup, load_cpus))
        for concurrency in CONCURRENCY:
            for server in servers:
                cell = measure_one(server, stream, concurrency, fake_pid, opts)
                cells.append(cell)
                print(f"{LABELS[server.target]:40.40}{report.cell_line(cell)}", flush=True)
                if "profile_top" in cell:
                    print(report.profile_lines(cell["profile_top"]), flush=True)
    return cells


def measure_one(
    server: Running, stream: bool, concurrency: int, fake_pid: int, opts: Options
) -> dict[str, Any]:
    place(server.target, fake_pid, opts.layout)
    load_cpus = opts.layout.cpus(server.target)[0]
    load = Load(server.url, MODEL, server.key, stream, concurrency, opts.seconds, load_cpus)
    raw = opts.work / f"profile-{server.target}-{report.mode(stream)}.txt"
    py_spy = opts.py_spy if concurrency == PROFILED and server.pid else None
    with profiling(py_spy, server.pid or 0, max(1, opts.seconds - 1), raw):
        cell = measure_cell(server.target, load, server.pid, fake_pid)
    if py_spy is not None:
        cell["profile_top"] = profile_top(raw)
    return cell


def place(target: str, fake_pid: int, layout: Layout) -> None:
    """The fake, PostgreSQL and Redis onto the CPUs `target`'s cells give them."""
    load_cpus, _, services_cpus = layout.cpus(target)
    repin(fake_pid, load_cpus)
    services_pinned_now(DATABASE_SERVERS, services_cpus)


def run_all(opts: Options) -> dict[str, Any]:
    litellm_version = None
    if "litellm" in opts.only or opts.py_spy is not None:
        litellm_version = ensure_litellm(opts.py_spy is not None)
    fake = fake_spec(opts.layout.load)
    with ExitStack() as stack:
        # PostgreSQL and Redis get every CPU back however the run ends.
        stack.callback(services_pinned_now, DATABASE_SERVERS, EVERY_CPU)
        fake_started = stack.enter_context(running(fake, opts.work / "fake.log"))
        servers = [Running("fake", fake.base_url, "none", None)]
        for target in opts.only[1:]:
            cpus = opts.layout.cpus(target)[1]
            spec, key = stack.enter_context(gateway(target, fake.base_url, opts, cpus))
            started = stack.enter_context(running(spec, opts.work / f"{target}.log"))
            servers.append(Running(target, spec.base_url, key, started.pid))
        print("Servers up: " + ", ".join(LABELS[s.target] for s in servers), flush=True)
        cells = measure_all(servers, fake_started.pid, opts)
        memory_after = {s.target: memory(s.pid or fake_started.pid) for s in servers}
    return {
        "litellm_version": litellm_version,
        "cells": cells,
        "memory_after_mb": memory_after,
    }


@contextmanager
def gateway(
    target: str, fake_url: str, opts: Options, cpus: str
) -> Iterator[tuple[ServerSpec, str]]:
    if target == "litellm":
        yield litellm_spec(fake_url, opts.work, cpus), LITELLM_KEY
        return
    with corral_server(target, fake_url, opts.work, cpus, opts.baseline) as server:
        yield server


def commit_us(layout: Layout) -> dict[str, float]:
    """Median microseconds of a one-row INSERT into this PostgreSQL, sent from the gateway's CPU
    to the services' CPU: committed with the WAL flushed to disk first (what corral's
    settlements wait for before an answer leaves) and with `synchronous_commit = off`."""
    table = f"corral_bench_commit_{secrets.token_hex(4)}"
    before = os.sched_getaffinity(0)
    services_pinned_now(DATABASE_SERVERS, layout.services)
    try:
        os.sched_setaffinity(0, {int(layout.gateway)})
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
            conn.execute(f"CREATE TABLE {table} (id bigserial PRIMARY KEY, v text)")
            try:
                return {
                    mode: _median_insert_us(conn, table, setting)
                    for mode, setting in (("flushed", "on"), ("not_flushed", "off"))
                }
            finally:
                conn.execute(f"DROP TABLE {table}")
    finally:
        os.sched_setaffinity(0, before)
        services_pinned_now(DATABASE_SERVERS, EVERY_CPU)


def _median_insert_us(conn: psycopg.Connection[Any], table: str, synchronous: str) -> float:
    conn.execute(f"SET synchronous_commit = {synchronous}")
    times = []
    for _ in range(500):
        started = time.perf_counter()
        conn.execute(f"INSERT INTO {table} (v) VALUES ('x')")
        times.append(time.perf_counter() - started)
    times.sort()
    return round(times[len(times) // 2] * 1e6, 1)


def machine_note(
    opts: Options, round_trips: dict[str, dict[str, float]], commits: dict[str, float] | None
) -> dict[str, Any]:
    layout, same, across = opts.layout, round_trips["same_cpu"], round_trips["across_cpus"]
    if layout.name == "shared":
        where = (
            f"wrk, the fake and a gateway's one worker share CPU {layout.gateway}; PostgreSQL "
            f"and Redis, which serve corral, get CPU {layout.services}; corral --workers 2 and "
            f"all the rest share CPUs {layout.workers}"
        )
    else:
        where = (
            f"wrk, the fake, PostgreSQL and Redis are pinned to CPU {layout.load}, a gateway's "
            f"one worker to CPU {layout.gateway}, corral --workers 2 to CPUs {layout.workers}"
        )
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "layout": dataclasses.asdict(layout),
        "loopback_round_trip_us": round_trips,
        "postgres_insert_us": commits,
        "note": (
            f"The load generator, the fake upstream and the gateway share this machine's "
            f"{os.cpu_count()} CPUs (layout '{layout.name}'): {where}. A TCP round trip on "
            f"loopback between two processes took {same['median']:.0f} us (median; mean "
            f"{same['mean']:.0f} us) on one CPU and {across['median']:.0f} us (mean "
            f"{across['mean']:.0f} us) across the two, where it must wake an idle virtual CPU: "
            "hence the load and one worker share one CPU by default."
            + (
                f" A one-row INSERT into this PostgreSQL took {commits['flushed']:.0f} us "
                f"(median) with its commit flushed to disk, as corral's settlements are before "
                f"an answer leaves, and {commits['not_flushed']:.0f} us with synchronous_commit "
                "off: the flush is part of every PostgreSQL-mode request at c=1."
                if commits
                else ""
            )
        ),
        "seconds_per_cell": opts.seconds,
        "warmup_s": opts.warmup,
    }


def parse_args() -> tuple[Options, bool]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each cell (s)")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up per server and mode (s)")
    parser.add_argument("--quick", action="store_true", help="2 s cells, 1 s warm-ups")
    parser.add_argument("--only", default=",".join(TARGETS), help="comma-separated targets")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results/")
    parser.add_argument(
        "--profile", action="store_true", help=f"py-spy each gateway at c={PROFILED}"
    )
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="shared", help="CPU layout")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout's src/ (e.g. a git worktree of an older commit), measured "
        "beside corral-sqlite in the same run",
    )
    args = parser.parse_args()
    only = tuple(t for t in args.only.split(",") if t)
    if args.baseline is not None:
        if not (args.baseline / "corral" / "__init__.py").is_file():
            parser.error(f"--baseline {args.baseline}: no corral package there")
        only = (*only, BASELINE)
    if unknown := set(only) - {*TARGETS, BASELINE}:
        parser.error(f"unknown targets {sorted(unknown)}; choose from {', '.join(TARGETS)}")
    if "fake" not in only:
        only = ("fake", *only)  # added latency is measured against it
    seconds, warmup = (2, 1) if args.quick else (args.seconds, args.warmup)
    py_spy = LITELLM_VENV / "bin" / "py-spy" if args.profile else None
    layout = LAYOUTS[args.layout]
    baseline = args.baseline.resolve() if args.baseline is not None else None
    return Options(seconds, warmup, only, Path(), layout, py_spy, baseline), not args.no_write


def main() -> None:
    opts, write = parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="corral-gateway-") as work:
        opts = dataclasses.replace(opts, work=Path(work))
        round_trips = {
            "same_cpu": loopback_round_trip_us("1", "1"),
            "across_cpus": loopback_round_trip_us("0", "1"),
        }
        uses_postgres = any(target.startswith("corral-pg") for target in opts.only)
        note = machine_note(opts, round_trips, commit_us(opts.layout) if uses_postgres else None)
        print(note["note"], flush=True)
        measured = run_all(opts)
    results = report.assemble(note, measured, LABELS)
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    markdown = report.markdown(results)
    print("\n" + markdown)
    if write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "gateway.json").write_text(json.dumps(results, indent=2) + "\n")
        (RESULTS / "gateway.md").write_text(markdown)
        report.plot(results, RESULTS / "gateway.png", LITELLM_VENV / "bin" / "python")
        print(f"Wrote {RESULTS}/gateway.json, gateway.md and gateway.png")


if __name__ == "__main__":
    main()
