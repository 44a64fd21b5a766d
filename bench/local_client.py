"""The client side of bench/local_inference.py: the requests both servers get, sent with the
official `openai` SDK, and what is recorded about each (times, chunks, the server's usage).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from corral.settings import EMBEDDED_MODEL_NAME

SEED = 1234
STORY_PROMPT = (
    "Write a very long story about a lighthouse keeper who finds a map to a hidden island. "
    "Describe every day of the journey in great detail, chapter by chapter."
)
# llama-cpp-python's extension field; corral ignores it (it never applies a repeat penalty).
EXTRA_BODY: dict[str, Any] = {"repeat_penalty": 1.0}

Messages = list[ChatCompletionMessageParam]
TokenSource = Literal["usage", "chunks"]


@dataclass
class StreamSample:
    """One streamed request: times (monotonic s), chunk count and the server's usage (if any)."""

    sent: float
    first: float | None = None
    last: float | None = None
    ended: float = 0.0
    content_chunks: int = 0
    usage_tokens: int | None = None
    prompt_tokens: int | None = None
    text: str = ""

    def tokens(self, source: TokenSource) -> int:
        if source == "chunks":
            return self.content_chunks
        if self.usage_tokens is None:
            raise RuntimeError("the stream sent no usage chunk")
        return self.usage_tokens


@dataclass
class Bench:
    """One running server under test: a client for it and the knobs every request shares."""

    name: str
    client: AsyncOpenAI
    max_tokens: int
    token_source: TokenSource

    async def stream(self, messages: Messages, max_tokens: int) -> StreamSample:
        sample = StreamSample(sent=time.monotonic())
        stream = await self.client.chat.completions.create(
            model=EMBEDDED_MODEL_NAME,
            messages=messages,
            max_tokens=max_tokens,
            temperature=0,
            seed=SEED,
            stream=True,
            stream_options={"include_usage": True},
            extra_body=EXTRA_BODY,
        )
        pieces: list[str] = []
        async for chunk in stream:
            now = time.monotonic()
            if chunk.usage is not None:
                sample.usage_tokens = chunk.usage.completion_tokens
                sample.prompt_tokens = chunk.usage.prompt_tokens
            content = chunk.choices[0].delta.content if chunk.choices else None
            if content:
                sample.first = sample.first or now
                sample.last = now
                sample.content_chunks += 1
                pieces.append(content)
        sample.ended = time.monotonic()
        sample.text = "".join(pieces)
        return sample

    async def complete(self, messages: Messages, max_tokens: int) -> tuple[float, int, int, str]:
        """A non-streamed request: (seconds, prompt tokens, completion tokens, text)."""
        sent = time.monotonic()
        response = await self.client.chat.completions.create(
            model=EMBEDDED_MODEL_NAME,
            messages=messages,
            max_tokens=max_tokens,
            temperature=0,
            seed=SEED,
            extra_body=EXTRA_BODY,
        )
        elapsed = time.monotonic() - sent
        if response.usage is None:
            raise RuntimeError(f"{self.name} sent no usage")
        usage, text = response.usage, response.choices[0].message.content or ""
        return elapsed, usage.prompt_tokens, usage.completion_tokens, text


def story(variant: int = 0) -> Messages:
    suffix = f" (Story number {variant}.)" if variant else ""
    return [{"role": "user", "content": STORY_PROMPT + suffix}]
