"""The measurement cells of bench/local_inference.py, each run against one running server:
single stream, concurrent streams, time to first token, prompt processing, and the check of
how tokens are counted.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from local_client import Bench, Messages, StreamSample, story

CONCURRENT_STREAMS = 4
TTFT_PER_ROUND = 10
TTFT_MAX_TOKENS = 8

Samples = dict[str, list[float]]


async def check_counts(bench: Bench) -> dict[str, Any]:
    """Verify the token counts against a non-streamed copy of the benchmark request."""
    sample = await bench.stream(story(), bench.max_tokens)
    _, prompt_tokens, completion_tokens, text = await bench.complete(story(), bench.max_tokens)
    counted = sample.tokens(bench.token_source)
    return {
        "max_tokens": bench.max_tokens,
        "counted_from": bench.token_source,
        "stream_tokens_counted": counted,
        "stream_content_chunks": sample.content_chunks,
        "stream_usage_completion_tokens": sample.usage_tokens,
        "non_streamed_usage_completion_tokens": completion_tokens,
        "prompt_tokens": prompt_tokens,
        "ok": counted == completion_tokens == bench.max_tokens,
        "stream_text_equals_non_streamed": sample.text == text,
        "text": sample.text,
    }


def require_full(bench: Bench, samples: list[StreamSample]) -> list[int]:
    counts = [s.tokens(bench.token_source) for s in samples]
    if any(n != bench.max_tokens for n in counts):
        raise RuntimeError(
            f"{bench.name}: streams produced {counts} tokens, not {bench.max_tokens} each "
            "(stopped early at end-of-sequence?); the throughput figures would not compare"
        )
    return counts


async def single_stream(bench: Bench) -> Samples:
    sample = await bench.stream(story(), bench.max_tokens)
    (tokens,) = require_full(bench, [sample])
    if sample.first is None or sample.last is None or sample.last <= sample.first:
        raise RuntimeError(f"{bench.name}: the stream's tokens have no measurable span")
    return {
        "decode_tps": [(tokens - 1) / (sample.last - sample.first)],
        "end_to_end_tps": [tokens / (sample.ended - sample.sent)],
    }


async def concurrent_streams(bench: Bench) -> Samples:
    started = time.monotonic()
    samples = await asyncio.gather(
        *(bench.stream(story(i + 1), bench.max_tokens) for i in range(CONCURRENT_STREAMS))
    )
    wall = max(s.ended for s in samples) - started
    return {"aggregate_tps": [sum(require_full(bench, list(samples))) / wall]}


async def time_to_first_token(bench: Bench, round_index: int) -> Samples:
    ttfts, sizes = [], []
    for k in range(TTFT_PER_ROUND):
        number = round_index * TTFT_PER_ROUND + k + 1
        messages: Messages = [{"role": "user", "content": f"Question {number}: what is a map?"}]
        sample = await bench.stream(messages, TTFT_MAX_TOKENS)
        if sample.first is None:
            raise RuntimeError(f"{bench.name}: the short prompt produced no text")
        ttfts.append((sample.first - sample.sent) * 1000)
        if sample.prompt_tokens is not None:  # only corral reports usage in streams
            sizes.append(float(sample.prompt_tokens))
    return {"ttft_ms": ttfts} | ({"short_prompt_tokens": sizes} if sizes else {})


async def prompt_processing(bench: Bench, text: str) -> Samples:
    elapsed, prompt_tokens, _, _ = await bench.complete([{"role": "user", "content": text}], 1)
    return {"prompt_tps": [prompt_tokens / elapsed], "prompt_tokens": [float(prompt_tokens)]}
