"""Memory and CPU of JSON-schema grammars on the local model (issue 28, items 1, 2 and 3b).

One in-process `LlamaCppBackend` on the embedded model. After a warm-up, the process's RSS is
the baseline; then, each with `max_tokens` 2, it generates under 200 distinct schemas, the same
schema 200 times, and the hostile schemas of the issue (`maxLength` 20000+i, answered under the
compiled bound; `minLength` 10,000,000+i, refused). After each phase it prints RSS against the
baseline (the abuse harness allows +10 %) and what the grammar cache holds. Last, the CPU a token
costs under a 256-member `enum` (the most `schema_limits` allows) and an 8000-member one (refused
by the limit, measured past it) against no grammar.

Run: `PYTHONPATH=src .venv/bin/python bench/grammar_memory.py` (`--rounds 200`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from pathlib import Path
from typing import Any

from corral.backends.base import ChatMessage, GenerationRequest, SamplingParams
from corral.backends.llama_cpp import LlamaCppBackend
from corral.backends.llama_cpp.grammar import GrammarCompiler
from corral.backends.schema_limits import SchemaLimits
from corral.errors import InvalidRequest
from corral.settings import LocalModelConfig, load_settings


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def request(schema: dict[str, Any] | None, max_tokens: int) -> GenerationRequest:
    params = SamplingParams(max_tokens=max_tokens, temperature=0, json_schema=schema)
    return GenerationRequest("req_bench", params, messages=(ChatMessage("user", "Answer."),))


def distinct(i: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            f"field_{i}": {"type": "string", "maxLength": 100 + i % 400},
            "items": {"type": "array", "items": {"type": "integer"}, "maxItems": 1 + i % 50},
        },
        "required": [f"field_{i}"],
    }


async def run_all(backend: LlamaCppBackend, schemas: list[dict[str, Any]]) -> tuple[int, int]:
    answered = refused = 0
    for schema in schemas:
        try:
            await backend.generate(request(schema, 2))
            answered += 1
        except InvalidRequest:
            refused += 1
    return answered, refused


def report(label: str, baseline: float, counts: tuple[int, int], backend: LlamaCppBackend) -> None:
    gc.collect()
    now = rss_mb()
    cache = backend._preparer._grammars._cache
    print(
        f"{label:<34} answered {counts[0]:>3}  refused {counts[1]:>3}  RSS {now:7.1f} MB  "
        f"ratio {now / baseline:5.3f}  cache {len(cache):>3} grammars {cache.bytes / 1024:7.1f} KiB"
    )


def ms_per_token(backend: LlamaCppBackend, schema: dict[str, Any] | None, tokens: int) -> float:
    asyncio.run(backend.generate(request(schema, 1)))  # prompt cached, grammar compiled
    started = time.perf_counter()
    result = asyncio.run(backend.generate(request(schema, tokens)))
    return (time.perf_counter() - started) * 1000 / max(result.usage.completion_tokens, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    path = load_settings().embedded_model_path
    backend = LlamaCppBackend(LocalModelConfig(name="bench", path=path, context_length=2048))
    asyncio.run(run_all(backend, [distinct(-1), {"type": "string", "maxLength": 20}]))
    gc.collect()
    baseline = rss_mb()
    print(f"{'baseline (after warm-up)':<34} RSS {baseline:7.1f} MB")
    n = args.rounds
    report(
        "distinct schemas",
        baseline,
        asyncio.run(run_all(backend, [distinct(i) for i in range(n)])),
        backend,
    )
    report("the same schema", baseline, asyncio.run(run_all(backend, [distinct(0)] * n)), backend)
    long = [{"type": "string", "maxLength": 20_000 + i} for i in range(20)]
    report("maxLength 20000+i (x20)", baseline, asyncio.run(run_all(backend, long)), backend)
    huge = [{"type": "string", "minLength": 10_000_000 + i} for i in range(4)]
    report("minLength 10,000,000+i (x4)", baseline, asyncio.run(run_all(backend, huge)), backend)
    plain = ms_per_token(backend, None, 16)
    for size in (256, 8000):
        members = [f"member number {i} of a long list" for i in range(size)]
        if (
            size > backend._preparer._grammars.limits.max_enum_members
        ):  # past the limit: measured anyway
            loose = SchemaLimits(max_enum_members=size, max_schema_bytes=1024 * 1024)
            backend._preparer._grammars = GrammarCompiler(loose, lambda: backend._vocab)
        cost = ms_per_token(backend, {"type": "array", "items": {"enum": members}}, 16)
        print(
            f"CPU per token, {size}-member enum: {cost:.1f} ms, no grammar {plain:.1f} ms "
            f"(x{cost / plain:.2f})"
        )
    asyncio.run(backend.close())


if __name__ == "__main__":
    main()
