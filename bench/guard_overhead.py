"""The privacy guard's own cost per partner call, in process: scan and mask, restore, audit row.

    PYTHONPATH=$PWD/src .venv/bin/python bench/guard_overhead.py  # writes bench/results/

For each prompt (the short chat turn bench/wrk/chat.lua sends; a 2 KB message with personal
data from corpus/privacy) and each masking policy, one call's guard work is timed as the gateway
does it: `PrivacyGuard.mask` (scan, on the event loop up to `INLINE_SCAN_CHARS`, else in a
worker thread), restoring the answer (`Restorer.result`) and making its audit row
(`Restorer.audit_into`). The answer is the masked prompt echoed, so every placeholder is put
back. Reported: median and p99 microseconds a call over `--calls` calls, after a warm-up. The
figures are noisy on a shared machine; they are each call's own CPU, not a load test (see
bench/gateway.py for that).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any, cast

from corral.backends.base import (
    Backend,
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    SamplingParams,
    Usage,
)
from corral.catalog.catalog import ModelEntry
from corral.pipeline.guard import Caller, PrivacyGuard
from corral.privacy.detect import Detector
from corral.settings import Policy

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "guard_overhead.json"
SHORT = "Summarise the feed for me in three short points please"  # bench/wrk/chat.lua's


def two_kb_prompt() -> str:
    """Corpus texts joined up to about 2 KB (English; personal data in most of them)."""
    texts = []
    for line in (ROOT / "corpus" / "privacy" / "en.jsonl").read_text().splitlines():
        texts.append(json.loads(line)["text"])
        if sum(len(t) + 1 for t in texts) >= 2048:
            break
    return "\n".join(texts)[:2048]


async def time_calls(guard: PrivacyGuard, policy: Policy, prompt: str, calls: int) -> list[float]:
    caller = Caller("req_bench", "ten_bench", "key_bench", policy)
    model = ModelEntry(
        id="partner", tier="partner", licence=None, context_length=100_000, created=0,
        owned_by="bench", backend=cast(Backend, None), kind="openai",  # never called
    )  # fmt: skip
    out = []
    for _ in range(calls):
        request = GenerationRequest(
            "req_bench", SamplingParams(), messages=(ChatMessage("user", prompt),)
        )
        started = time.perf_counter()
        sent, restorer = await guard.mask(request, caller, model)
        restorer.audit_into(request.audit)
        answer = sent.messages[0].content if sent.messages else ""
        restorer.result(GenerationResult(answer, "stop", Usage(1, 1)))
        out.append((time.perf_counter() - started) * 1e6)
    return out


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_us": round(statistics.median(ordered), 1),
        "p99_us": round(ordered[int(len(ordered) * 0.99) - 1], 1),
    }


async def measure(calls: int) -> list[dict[str, Any]]:
    guard = PrivacyGuard(Detector())
    rows = []
    for name, prompt in (("short chat turn", SHORT), ("2 KB with personal data", two_kb_prompt())):
        policies: tuple[Policy, ...] = ("allow", "pseudonymize", "pseudonymize_strict")
        for policy in policies:
            await time_calls(guard, policy, prompt, max(10, calls // 10))  # warm-up
            figures = summary(await time_calls(guard, policy, prompt, calls))
            rows.append({"prompt": name, "chars": len(prompt), "policy": policy, **figures})
            print(f"{name:26} {policy:20} {figures}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rows = asyncio.run(measure(args.calls))
    if not args.no_write:
        RESULTS.write_text(json.dumps({"calls": args.calls, "rows": rows}, indent=2) + "\n")
        print(f"Wrote {RESULTS}")


if __name__ == "__main__":
    main()
