"""Benchmark: the gateway's CPU time per request, premium and partner tier, plain and streamed.

Method. The fake upstream (bench/fake_upstream.py) and `corral serve` (SQLite, one worker, the
config and keys of bench/gateway.py: `corral-sqlite` is the premium tier, `corral-partner` the
partner tier with its tenant on `pseudonymize`, so the privacy guard and the audit row run on
every request) are started; wrk (bench/wrk/chat.lua, one thread) drives each cell (a target,
plain or streamed, c=16 or c=1) for `--seconds` after a warm-up, and the cell reports the
server process's user+system CPU seconds over its run (from /proc, `procs.cpu_seconds`) divided
by the requests it answered. Unlike requests per second, CPU per request hardly moves with the
load of the rest of this shared machine (cache and frequency effects only), so it is the figure
to compare before and after a change; the c=1 p50 latency (and the fake's own, to subtract) is
printed too, with the load average beside it. `--rounds N` repeats every cell N times,
interleaved, and reports each cell's median round.

`--baseline SRC` serves the same two targets a second time from another checkout's `src/`
(e.g. `git archive main src | tar -x -C /tmp/base`), interleaved with this checkout's cells:
before and after in one run. `--profile PY_SPY` samples each target's c=16 cells with that
py-spy (`record --format raw`) and prints the functions most often running.

Run: `.venv/bin/python bench/gateway_cpu.py` (`--seconds 5 --rounds 3`, `--only
corral-partner`, `--baseline /tmp/base/src`, `--profile /tmp/prof/bin/py-spy`,
`--concurrency 16,1`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from gateway import MODEL, corral_server, fake_spec
from gateway_load import Load, profile_top, profiling, run_wrk
from procs import CLK_TCK, ServerSpec, cpu_seconds, process_tree, running

TARGETS = ("corral-sqlite", "corral-partner")
LABELS = {"corral-sqlite": "premium", "corral-partner": "partner", "fake": "fake"}


@dataclass(frozen=True)
class Server:
    label: str
    url: str
    key: str
    pid: int


@dataclass(frozen=True)
class Cell:
    label: str
    stream: bool
    concurrency: int
    requests: int
    cpu_ms: float
    """Server CPU milliseconds per request."""
    sys_ms: float
    """The kernel's part of it (system time: sockets, SQLite's writes)."""
    p50_ms: float
    errors: int


def system_seconds(pid: int) -> float:
    """System (kernel) CPU time of a process tree's live processes so far."""
    total = 0.0
    for member in process_tree(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{member}/stat").read_text()
            total += int(stat[stat.rindex(")") + 2 :].split()[12]) / CLK_TCK
    return total


def measure(server: Server, stream: bool, concurrency: int, seconds: int, cpus: str) -> Cell:
    load = Load(server.url, MODEL, server.key, stream, concurrency, seconds, cpus)
    before, before_sys = cpu_seconds(server.pid), system_seconds(server.pid)
    summary = run_wrk(load)
    used = cpu_seconds(server.pid) - before
    kernel = system_seconds(server.pid) - before_sys
    requests = int(summary["requests"])
    errors = sum(int(summary[k]) for k in ("non2xx", "incomplete", "connect", "read", "timeout"))
    return Cell(
        server.label,
        stream,
        concurrency,
        requests,
        1000 * used / max(1, requests),
        1000 * kernel / max(1, requests),
        summary["p50_us"] / 1000,
        errors,
    )


@contextmanager
def servers(targets: tuple[str, ...], baseline: Path | None, work: Path) -> Iterator[list[Server]]:
    """The fake, then each target (and each again from `baseline`), all up until the end."""
    with ExitStack() as stack:
        fake = fake_spec("")  # unpinned
        fake_started = stack.enter_context(running(fake, work / "fake.log"))
        up = [Server("fake", fake.base_url, "none", fake_started.pid)]
        for target in targets:
            for source in (None, baseline) if baseline is not None else (None,):
                home = work / f"{target}-{'base' if source else 'new'}"
                home.mkdir()
                spec, key = stack.enter_context(_corral(target, fake.base_url, home, source))
                started = stack.enter_context(running(spec, home / "server.log"))
                label = LABELS[target] + (" (baseline)" if source is not None else "")
                up.append(Server(label, spec.base_url, key, started.pid))
        yield up


@contextmanager
def _corral(
    target: str, fake_url: str, home: Path, baseline: Path | None
) -> Iterator[tuple[ServerSpec, str]]:
    # corral_server takes the tier from the target's name, and serves another src only for
    # its own baseline target (premium): either tier's baseline gets PYTHONPATH here instead.
    with corral_server(target, fake_url, home, "") as (spec, key):
        if baseline is not None:
            spec.env["PYTHONPATH"] = str(baseline)
        yield spec, key


def run(args: argparse.Namespace) -> None:
    targets = tuple(t for t in args.only.split(",") if t)
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    with (
        tempfile.TemporaryDirectory(prefix="corral-gwcpu-") as tmp,
        servers(targets, args.baseline, Path(tmp)) as up,
    ):
        print(f"servers up; load average {os.getloadavg()}", flush=True)
        results: dict[tuple[str, bool, int], list[Cell]] = {}
        for stream in (mode == "stream" for mode in args.modes.split(",")):
            for server in up[1:]:
                measure(server, stream, 16, args.warmup, args.cpus)
            for round_ in range(args.rounds):
                for concurrency in concurrencies:
                    for server in up if concurrency == 1 else up[1:]:
                        profile = args.profile if concurrency == 16 and round_ == 0 else None
                        raw = (args.raw_dir or Path(tmp)) / f"{server.label}-{stream}.raw"
                        with profiling(profile, server.pid, max(1, args.seconds - 1), raw):
                            cell = measure(server, stream, concurrency, args.seconds, args.cpus)
                        results.setdefault((server.label, stream, concurrency), []).append(cell)
                        print(_line(cell), f"load {os.getloadavg()[0]:.2f}", flush=True)
                        if profile is not None:
                            for name, inclusive, own in profile_top(raw, args.top):
                                print(f"    {own:6.1%} own {inclusive:6.1%} incl  {name}")
        print(f"\nmedian of {args.rounds} round(s); load average {os.getloadavg()}")
        for cells in results.values():
            print(_line(_median(cells)))


def _median(cells: list[Cell]) -> Cell:
    ordered = sorted(cells, key=lambda c: c.cpu_ms)
    middle = ordered[len(ordered) // 2]
    p50 = statistics.median(c.p50_ms for c in cells)
    return Cell(
        middle.label,
        middle.stream,
        middle.concurrency,
        middle.requests,
        middle.cpu_ms,
        middle.sys_ms,
        p50,
        sum(c.errors for c in cells),
    )


def _line(cell: Cell) -> str:
    mode = "stream" if cell.stream else "plain"
    return (
        f"{cell.label:20} {mode:6} c={cell.concurrency:<3} {cell.requests:7d} req  "
        f"{cell.cpu_ms:6.3f} CPU-ms/req (sys {cell.sys_ms:5.3f})  "
        f"p50 {cell.p50_ms:6.3f} ms  errors {cell.errors}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="length of each cell (s)")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up per server and mode (s)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat every cell, interleaved")
    parser.add_argument("--only", default=",".join(TARGETS), help="comma-separated targets")
    parser.add_argument("--concurrency", default="16,1", help="comma-separated wrk -c values")
    parser.add_argument("--modes", default="plain,stream", help="plain, stream or both")
    parser.add_argument("--cpus", default="0-1", help="taskset CPUs for wrk")
    parser.add_argument("--baseline", type=Path, help="another checkout's src/, side by side")
    parser.add_argument("--profile", type=Path, help="py-spy executable: profile c=16 cells")
    parser.add_argument("--raw-dir", type=Path, help="keep the py-spy raw profiles here")
    parser.add_argument("--top", type=int, default=30, help="profile lines per cell")
    args = parser.parse_args()
    if unknown := {t for t in args.only.split(",") if t} - set(TARGETS):
        parser.error(f"unknown targets {sorted(unknown)}; choose from {', '.join(TARGETS)}")
    if args.baseline is not None:
        args.baseline = args.baseline.resolve()
    run(args)


if __name__ == "__main__":
    main()
