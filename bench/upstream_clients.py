"""The two upstream clients side by side: the lean one (plain http) and httpx (https partners).

    PYTHONPATH=$PWD/src .venv/bin/python bench/upstream_clients.py  # writes bench/results/

Both POST the same short chat completion to the instant fake upstream (bench/fake_upstream.py,
its own process, on loopback, plain http for both so that only the client differs), one call
after another on a kept-alive connection, read whole (`plain`) or as server-sent events
(`stream`), through the calls `openai_api.wire` makes. Reported: median and p99 microseconds a
call over `--calls` calls after a warm-up. Noisy on a shared machine; what matters is the
difference between the two, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from corral.backends.remote.http import HttpClient
from corral.backends.remote.tls import HttpxClient, UpstreamClient
from procs import ServerSpec, clean_env, free_port, running

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results" / "upstream_clients.json"
BODY = json.dumps(
    {"model": "fake-mini", "messages": [{"role": "user", "content": "hello there"}]}
).encode()
STREAM_BODY = json.dumps(
    {"model": "fake-mini", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
).encode()


async def one_call(client: UpstreamClient, stream: bool) -> None:
    response = await client.request(b"POST", b"/chat/completions", STREAM_BODY if stream else BODY)
    try:
        if stream:
            async for _ in response.chunks():
                pass
        else:
            await response.read()
    finally:
        response.close()


async def time_client(client: UpstreamClient, stream: bool, calls: int) -> dict[str, float]:
    for _ in range(max(20, calls // 10)):
        await one_call(client, stream)
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        await one_call(client, stream)
        samples.append((time.perf_counter() - started) * 1e6)
    samples.sort()
    return {
        "median_us": round(statistics.median(samples), 1),
        "p99_us": round(samples[int(len(samples) * 0.99) - 1], 1),
    }


async def measure(base_url: str, calls: int) -> list[dict[str, Any]]:
    headers = {"Authorization": "Bearer none", "Content-Type": "application/json"}
    rows = []
    for stream in (False, True):
        for name, client in (
            ("lean (remote.http)", HttpClient(base_url, headers)),
            ("httpx (remote.tls)", HttpxClient(base_url, headers)),
        ):
            figures = await time_client(client, stream, calls)
            await client.close()
            rows.append({"client": name, "mode": "stream" if stream else "plain", **figures})
            print(f"{name:20} {'stream' if stream else 'plain':7} {figures}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    port = free_port()
    command = [sys.executable, str(BENCH / "fake_upstream.py"), "--port", str(port)]
    spec = ServerSpec("fake", command, clean_env(), "0-1", port, "/v1/models")
    with tempfile.TemporaryDirectory() as work, running(spec, Path(work) / "fake.log"):
        rows = asyncio.run(measure(f"{spec.base_url}/v1", args.calls))
    if not args.no_write:
        RESULTS.write_text(json.dumps({"calls": args.calls, "rows": rows}, indent=2) + "\n")
        print(f"Wrote {RESULTS}")


if __name__ == "__main__":
    main()
