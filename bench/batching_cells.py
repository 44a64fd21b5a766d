"""The cells of bench/batching_reference.py, run against one server through the `openai` SDK:
N concurrent streams, each with its own ~200-token prompt, and one long shared system prompt
followed by different questions.

Every request is a streamed chat completion at `temperature=0`. A stream's tokens are the
`usage.completion_tokens` of its final chunk (both servers send one when asked with
`stream_options.include_usage`); its time to first token runs from sending the request to its
first non-empty content chunk.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field
from typing import cast

import llama_cpp
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from corral.settings import EMBEDDED_MODEL_NAME
from local_setup import long_prompt_text

STREAM_PROMPT_TOKENS = 200
SYSTEM_PROMPT_TOKENS = 1500
RAMBLE = "Then write a very long story about these notes, chapter by chapter, in great detail."
QUESTIONS = [
    "Which day appears first in the notes?",
    "Who is the keeper?",
    "What did the sailor remember?",
    "Name one thing the crew painted.",
    "How many lanterns are there?",
    "What is the grey sea?",
    "Describe the northern cliffs.",
    "What broke the compass?",
    "Who crossed the island?",
    "When did the storm come?",
    "What did the old map show?",
    "Give the notes a title.",
    "Which object appears most?",
    "What would the keeper do next?",
    "Is the island inhabited?",
    "Summarise the notes in five words.",
]


@dataclass
class Sample:
    sent: float
    first: float | None = None
    ended: float = 0.0
    tokens: int = 0
    cached: int | None = None
    """`usage.prompt_tokens_details.cached_tokens`, where the server reports it."""
    arrivals: list[float] = field(default_factory=list)
    """When each content chunk came (one a token on both servers, but for held-back text)."""

    @property
    def ttft(self) -> float:
        if self.first is None:
            raise RuntimeError("the stream sent no text")
        return self.first - self.sent

    @property
    def decode_tok_s(self) -> float:
        """Tokens after the first over the time from the first to the end (0 for one token)."""
        if self.first is None or self.tokens < 2 or self.ended <= self.first:
            return 0.0
        return (self.tokens - 1) / (self.ended - self.first)


async def stream(client: AsyncOpenAI, messages: list[dict[str, str]], max_tokens: int) -> Sample:
    sample = Sample(sent=time.monotonic())
    chunks = await client.chat.completions.create(
        model=EMBEDDED_MODEL_NAME,
        messages=cast(list[ChatCompletionMessageParam], messages),
        max_tokens=max_tokens,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    async for chunk in chunks:
        if chunk.choices and chunk.choices[0].delta.content:
            sample.arrivals.append(time.monotonic())
            if sample.first is None:
                sample.first = sample.arrivals[-1]
        if chunk.usage is not None:
            sample.tokens = chunk.usage.completion_tokens
            details = chunk.usage.prompt_tokens_details
            sample.cached = details.cached_tokens if details is not None else None
    sample.ended = time.monotonic()
    return sample


def stream_prompts(vocab: llama_cpp.Llama, count: int, offset: int) -> list[str]:
    """`count` prompts of ~200 tokens, each with a first line of its own (no shared prefix
    beyond the chat template's), asking for a long answer."""
    return [
        long_prompt_text(vocab, STREAM_PROMPT_TOKENS, offset + i) + "\n" + RAMBLE
        for i in range(count)
    ]


def system_prompt(vocab: llama_cpp.Llama) -> str:
    return long_prompt_text(vocab, SYSTEM_PROMPT_TOKENS, 9999)


@dataclass
class Concurrent:
    streams: int
    tokens: int
    wall_s: float
    ttft_p50_s: float
    decode_tok_s: float = 0.0
    """The streams' decode speeds added up: each stream's tokens after its first over the time
    from its first token to its end. The streams are sent together and decode side by side, so
    this is the aggregate decode rate, prompt reading left out (`tok_s` includes it). A stream
    whose first token comes while others' prompts are still read (corral reads prompts in
    chunks between decode steps) counts those slower steps in its decode time."""
    steady_tok_s: float = 0.0
    """Content chunks of all streams that came while every stream was writing (from the last
    stream's first token to the first stream's end) over that time: the decode rate with no
    prompt being read, the same window for both servers. 0 when there is no such window."""

    @property
    def tok_s(self) -> float:
        return self.tokens / self.wall_s


async def concurrent(client: AsyncOpenAI, prompts: list[str], max_tokens: int) -> Concurrent:
    """All prompts sent at once: completion tokens of all streams / wall time from the first
    request sent to the last stream's end (prompt reading included)."""
    started = time.monotonic()
    samples = await asyncio.gather(
        *(stream(client, [{"role": "user", "content": p}], max_tokens) for p in prompts)
    )
    wall = max(s.ended for s in samples) - started
    ttft = statistics.median(s.ttft for s in samples)
    decode = sum(s.decode_tok_s for s in samples)
    tokens = sum(s.tokens for s in samples)
    return Concurrent(len(prompts), tokens, wall, ttft, decode, steady_rate(samples))


def median_cell(found: list[Concurrent]) -> Concurrent:
    """One cell whose every figure is the median of that figure over `found` (rounds)."""
    return Concurrent(
        found[0].streams,
        round(statistics.median(c.tokens for c in found)),
        statistics.median(c.wall_s for c in found),
        statistics.median(c.ttft_p50_s for c in found),
        statistics.median(c.decode_tok_s for c in found),
        statistics.median(c.steady_tok_s for c in found),
    )


def steady_rate(samples: list[Sample]) -> float:
    """Chunks per second of all streams while all of them were writing (`steady_tok_s`)."""
    start = max(s.first or 0.0 for s in samples)
    end = min(s.arrivals[-1] if s.arrivals else 0.0 for s in samples)
    if end <= start:
        return 0.0
    # Chunks after `start` only: the one at `start` ended a wait that began before it.
    count = sum(1 for s in samples for at in s.arrivals if start < at <= end)
    return count / (end - start)


@dataclass
class Shared:
    first_ttft_s: float
    sequential_ttft_s: float
    """Median time to first token of questions 2-16 asked one after another."""
    together_ttft_s: float
    """Median time to first token of 16 more questions (numbered) asked all at once."""
    cached: list[int | None]
    refused: list[str] = field(default_factory=list)
    """The errors of the questions asked all at once that the server refused."""


async def shared_system_prompt(client: AsyncOpenAI, system: str, max_tokens: int) -> Shared:
    """The first question reads the whole system prompt; the others find it cached."""

    def ask(question: str) -> list[dict[str, str]]:
        return [{"role": "system", "content": system}, {"role": "user", "content": question}]

    first = await stream(client, ask(QUESTIONS[0]), max_tokens)
    sequential = [await stream(client, ask(q), max_tokens) for q in QUESTIONS[1:]]
    # The same questions again would be cached whole: these differ by their number.
    answers = await asyncio.gather(
        *(stream(client, ask(f"Question {i}: {q}"), max_tokens) for i, q in enumerate(QUESTIONS)),
        return_exceptions=True,  # a server whose cache cannot hold them all refuses some
    )
    together = [a for a in answers if isinstance(a, Sample)]
    refused = [str(a) for a in answers if not isinstance(a, Sample)]
    return Shared(
        first.ttft,
        statistics.median(s.ttft for s in sequential),
        statistics.median(s.ttft for s in together) if together else float("nan"),
        [s.cached for s in [first, *sequential]],
        refused,
    )
