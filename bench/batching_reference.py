"""Benchmark: corral's continuous batching against llama.cpp's own `llama-server`, in one run.

    bench/build_llama_server.sh        # once: llama-server from the pinned llama.cpp source
    PYTHONPATH=src .venv/bin/python bench/batching_reference.py [--threads 2] [--slots 16]
    PYTHONPATH=src .venv/bin/python bench/batching_reference.py --streams 4 --rounds 5 --no-shared

Both servers load the embedded SmolLM2-135M-Instruct GGUF with the same threads, per-sequence
context (2,048 tokens), flash attention, q8_0 KV cache and number of sequences decoded together
(`slots = N` / `--parallel N --cont-batching`): bench/batching_servers.py. Both are started
fresh and stay up for the whole run; each cell is run against corral, then against
llama-server, never both at once (bench/batching_cells.py), so that a change in the shared
machine's load falls on both sides of a ratio alike:

* 1, 4, 8 and 16 concurrent streams, each with its own ~200-token prompt and 128 generated
  tokens at most: the aggregate decode tokens/s (each stream's tokens after its first over
  the time from its first token to its end, added up: what the issue's targets name), the
  aggregate tokens/s with prompt reading (completion tokens of all streams / wall time from the
  first request to the last end) and the median time to first token;
* a shared ~1,500-token system prompt with 16 different questions: the first question's time
  to first token, then the median of questions 2-16 asked one after another, then of 16 more
  asked all at once (each slot but one has to get the system prompt from another).

`--rounds N` runs the stream cells N times, each round with prompts of its own and the servers'
order reversed every other round, and reports each figure's median over the rounds: this VM's
speed drifts by tens of percent between minutes, which one round per cell cannot tell from a
difference between the servers. `--no-shared` leaves out the shared system prompt cells.

The table prints corral's figure, llama-server's and their ratio, with the load average before
and after: the machine is shared, so only the ratio of one run means much.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

import llama_cpp
from openai import AsyncOpenAI

import batching_cells as cells
from batching_servers import corral_spec, llama_server_spec
from local_setup import ADMIN_KEY, model_path
from procs import ServerSpec, memory, running

STREAMS = (1, 4, 8, 16)
MAX_TOKENS = 128
SHARED_MAX_TOKENS = 8
CONTEXT = 2048
RESULTS_FILE = Path(__file__).resolve().parent / "results" / "batching_reference.json"


async def measure(
    servers: list[tuple[str, str, str]],
    rounds: list[dict[int, list[str]]],
    system: str | None,
) -> dict[str, dict[str, Any]]:
    """Every cell against every server in turn (`servers`: name, base URL, API key), so that
    a change in the machine's load falls on both sides of a ratio alike; with several
    `rounds` (prompts of their own each, so none is cached from the round before), the servers'
    order is reversed every other round and each figure is the median of the rounds."""
    clients = {
        name: AsyncOpenAI(base_url=url + "/v1", api_key=key, timeout=1800, max_retries=0)
        for name, url, key in servers
    }
    cells_of: dict[str, dict[int, list[cells.Concurrent]]] = {name: {} for name in clients}
    for client in clients.values():
        await cells.stream(client, [{"role": "user", "content": "Hello"}], 4)  # warm-up
    for number, prompts in enumerate(rounds):
        order = list(clients.items())[:: -1 if number % 2 else 1]
        for streams in prompts:
            for name, client in order:
                cell = await cells.concurrent(client, prompts[streams], MAX_TOKENS)
                cells_of[name].setdefault(streams, []).append(cell)
                print(f"{name}: {cell} {cell.tok_s:.1f} tok/s; load {os.getloadavg()}", flush=True)
    figures: dict[str, dict[str, Any]] = {
        name: {f"c{s}": cells.median_cell(found) for s, found in by_streams.items()}
        for name, by_streams in cells_of.items()
    }
    for name, client in clients.items():
        if system is not None:
            shared = await cells.shared_system_prompt(client, system, SHARED_MAX_TOKENS)
            figures[name]["shared"] = shared
            print(f"{name}: {shared}; load {os.getloadavg()}", flush=True)
        await client.close()
    return figures


def run_servers(
    specs: list[tuple[ServerSpec, str]], workdir: Path, inputs: Any
) -> list[dict[str, Any]]:
    """Start every server (each idle RSS read once all are ready), then measure them together;
    the figures in the order of `specs`."""
    with contextlib.ExitStack() as stack:
        started = [
            stack.enter_context(running(spec, workdir / f"{spec.name.split()[0]}.log"))
            for spec, _ in specs
        ]
        idle = [memory(one.pid)["rss_mb"] for one in started]
        servers = [(spec.name, spec.base_url, key) for spec, key in specs]
        figures = asyncio.run(measure(servers, *inputs))
    out = []
    for (spec, _), idle_mb in zip(specs, idle, strict=True):
        figures[spec.name]["idle_rss_mb"] = idle_mb
        out.append(figures[spec.name])
    return out


def rows(ours: dict[str, Any], theirs: dict[str, Any]) -> list[tuple[str, float, float]]:
    table = [("idle RSS (MB)", ours["idle_rss_mb"], theirs["idle_rss_mb"])]
    for streams in (s for s in STREAMS if f"c{s}" in ours):
        a, b = ours[f"c{streams}"], theirs[f"c{streams}"]
        table.append(
            (f"{streams} streams: decode tok/s (all together)", a.decode_tok_s, b.decode_tok_s)
        )
        table.append(
            (f"{streams} streams: decode tok/s, all writing", a.steady_tok_s, b.steady_tok_s)
        )
        table.append((f"{streams} streams: tok/s with prompt reading", a.tok_s, b.tok_s))
        table.append((f"{streams} streams: TTFT p50 (s)", a.ttft_p50_s, b.ttft_p50_s))
    if "shared" not in ours:
        return table
    a, b = ours["shared"], theirs["shared"]
    table.append(("shared 1.5k system prompt: 1st TTFT (s)", a.first_ttft_s, b.first_ttft_s))
    table.append(("  2nd-16th one by one: TTFT p50 (s)", a.sequential_ttft_s, b.sequential_ttft_s))
    table.append(("  16 more at once: TTFT p50 (s)", a.together_ttft_s, b.together_ttft_s))
    return table


def report(ours: dict[str, Any], theirs: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"{'':44} {'corral':>9} {'llama-server':>12} {'ratio':>6}")
    for name, a, b in rows(ours, theirs):
        print(f"{name:44} {a:>9.3f} {b:>12.3f} {a / b if b else float('nan'):>6.2f}")
    if "c1" in ours and "c8" in ours:
        for label, key in (
            ("decode", "decode_tok_s"),
            ("decode, all writing", "steady_tok_s"),
            ("with prompt reading", "tok_s"),
        ):
            single, eight = getattr(ours["c1"], key), getattr(ours["c8"], key)
            print(f"corral 8 streams / its own single stream, {label}: {eight / single:.2f}x")
    for name, figures in (("corral", ours), ("llama-server", theirs)):
        if "shared" not in figures:
            continue
        shared = figures["shared"]
        print(
            f"{name}: 2nd-16th TTFT / 1st: {shared.sequential_ttft_s / shared.first_ttft_s:.2f} "
            f"one by one, {shared.together_ttft_s / shared.first_ttft_s:.2f} at once; "
            f"cached_tokens reported: {shared.cached}; of the 16 at once, refused: "
            f"{len(shared.refused)} {sorted(set(shared.refused))}"
        )
    print(
        f"threads {args.threads}, slots / --parallel {args.slots}, "
        f"context {CONTEXT} per request, one shared KV cache; median of {args.rounds} round(s)"
    )


def inputs(
    path: Path, streams: list[int], rounds: int, shared: bool
) -> tuple[list[dict[int, list[str]]], str | None]:
    vocab = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)
    try:
        prompts = [
            {s: cells.stream_prompts(vocab, s, 100 * s + 1000 * r) for s in streams}
            for r in range(rounds)
        ]
        return prompts, cells.system_prompt(vocab) if shared else None
    finally:
        vocab.close()


def exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds, so the servers are stopped


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="inference threads (default 2)")
    parser.add_argument("--slots", type=int, default=16, help="sequences at once (default 16)")
    parser.add_argument(
        "--streams",
        type=int,
        nargs="+",
        default=list(STREAMS),
        help="concurrent streams of the cells (default: 1 4 8 16; at most --slots)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="repeat the stream cells, median (default 1)"
    )
    parser.add_argument(
        "--no-shared", action="store_true", help="leave out the shared system prompt cells"
    )
    parser.add_argument("--out", type=Path, default=RESULTS_FILE, help="where the JSON goes")
    args = parser.parse_args()
    if any(not 1 <= s <= args.slots for s in args.streams):
        parser.error("each of --streams is between 1 and --slots")
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    path = model_path()
    if args.rounds < 1:
        parser.error("--rounds is at least 1")
    data = inputs(path, args.streams, args.rounds, not args.no_shared)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="corral-batching-") as tmp:
        workdir = Path(tmp)
        ours_spec = corral_spec(workdir, path, args.threads, args.slots, CONTEXT)
        theirs_spec = llama_server_spec(path, args.threads, args.slots, CONTEXT)
        ours, theirs = run_servers([(ours_spec, ADMIN_KEY), (theirs_spec, "unused")], workdir, data)
    load_after = os.getloadavg()
    report(ours, theirs, args)
    print(f"load average (1, 5, 15 min): before {load_before}, after {load_after}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table = [{"cell": n, "corral": a, "llama_server": b} for n, a, b in rows(ours, theirs)]
    saved = {"threads": args.threads, "slots": args.slots, "context": CONTEXT, "rows": table}
    saved["rounds"] = args.rounds
    saved["load_average"] = {"before": load_before, "after": load_after}
    args.out.write_text(json.dumps(saved, indent=2) + "\n")
    print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
