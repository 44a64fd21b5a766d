"""`LlamaCppBackend` with `slots` > 1: requests at once share one batched context."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from corral.backends.base import (
    ChatMessage,
    Finished,
    GenerationRequest,
    SamplingParams,
    StreamEvent,
    TextDelta,
)
from corral.backends.llama_cpp import LlamaCppBackend
from corral.errors import KVCacheFull
from corral.settings import LocalModelConfig

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}


def backend(model_path: Path, slots: int) -> LlamaCppBackend:
    return LlamaCppBackend(
        LocalModelConfig(name="smol", path=model_path, context_length=512, slots=slots)
    )


def ask(question: str, **params: object) -> GenerationRequest:
    sampling = SamplingParams(**{"max_tokens": 24, "temperature": 0, **params})  # type: ignore[arg-type]
    return GenerationRequest("req", sampling, messages=(ChatMessage("user", question),))


def test_a_json_schema_and_plain_chats_are_answered_together(model_path: Path) -> None:
    async def scenario() -> list[str]:
        batched = backend(model_path, 3)
        try:
            results = await asyncio.gather(
                batched.generate(ask("Invent a person.", max_tokens=60, json_schema=PERSON)),
                batched.generate(ask("Name a colour.")),
                batched.generate(ask("Say hello.", stop=("\n",))),
            )
        finally:
            await batched.close()
        return [result.text for result in results]

    person, colour, hello = asyncio.run(scenario())

    assert set(json.loads(person)) == {"name", "age"}
    assert colour and "\n" not in hello


def test_a_stream_left_by_its_client_ends_while_others_go_on(model_path: Path) -> None:
    left = ask("Tell a long story.", max_tokens=200)

    async def scenario() -> tuple[int, int]:
        batched = backend(model_path, 2)
        try:
            other = asyncio.create_task(batched.generate(ask("Tell a story.", max_tokens=40)))
            stream = await batched.stream(left)
            seen = 0
            async for event in stream:
                seen += isinstance(event, TextDelta)
                if seen == 3:
                    break
            await stream.aclose()  # type: ignore[attr-defined]
            finished = await other
            return seen, finished.usage.completion_tokens
        finally:
            await batched.close()

    seen, other_tokens = asyncio.run(scenario())

    assert seen == 3
    assert other_tokens == 40
    # Generation stopped at the step after the client left, long before its 200 tokens.
    assert left.meter.completion_tokens < 20


def test_streamed_text_ends_with_exact_usage(model_path: Path) -> None:
    async def scenario() -> list[StreamEvent]:
        batched = backend(model_path, 2)
        try:
            stream = await batched.stream(ask("Count to five.", max_tokens=12))
            return [event async for event in stream]
        finally:
            await batched.close()

    events = asyncio.run(scenario())

    final = events[-1]
    assert isinstance(final, Finished)
    assert final.usage.completion_tokens == 12 or final.reason == "stop"


def test_echo_scoring_runs_alone_and_matches_one_slot(model_path: Path) -> None:
    request = GenerationRequest(
        "req",
        SamplingParams(max_tokens=3, temperature=0, logprobs=True),
        prompt="The history of the sea",
        echo=True,
    )

    async def scored(slots: int) -> list[float | None]:
        running = backend(model_path, slots)
        try:
            result = await running.generate(request)
        finally:
            await running.close()
        return [entry.logprob for entry in result.logprobs or []]

    assert asyncio.run(scored(2)) == asyncio.run(scored(1))


def test_one_slot_reruns_are_bit_exact(model_path: Path) -> None:
    # The deterministic mode: one sequence at a time, the same logprobs to the last bit.
    request = ask("Name a colour.", logprobs=True, temperature=0.8, seed=3)

    async def twice() -> tuple[object, object]:
        running = backend(model_path, 1)
        try:
            first = await running.generate(request)
            second = await running.generate(request)
        finally:
            await running.close()
        return first.logprobs, second.logprobs

    first, second = asyncio.run(twice())

    assert first == second


def test_a_request_that_finds_the_shared_cache_full_gets_a_503(model_path: Path) -> None:
    # 256 cells shared by two slots: while one ~200-token text is being continued, a second
    # ~200-token prompt does not fit; the request that started last is refused, the other goes on.
    long = "The tide comes in and goes out twice a day. " * 16
    other = "A wind blows over the hills all night long. " * 16  # no prefix to share

    def text(prompt: str, max_tokens: int) -> GenerationRequest:
        sampling = SamplingParams(max_tokens=max_tokens, temperature=0)
        return GenerationRequest("req", sampling, prompt=prompt)

    async def scenario() -> tuple[BaseException | None, list[StreamEvent]]:
        batched = LlamaCppBackend(
            LocalModelConfig(
                name="smol", path=model_path, context_length=256, slots=2, kv_cells=256
            )
        )
        try:
            stream = await batched.stream(text(long, 40))
            events = [await anext(stream)]  # its prompt is read: its cells are taken
            refused: BaseException | None = None
            try:
                await batched.generate(text(other, 8))
            except KVCacheFull as exc:
                refused = exc
            events += [event async for event in stream]
            return refused, events
        finally:
            await batched.close()

    refused, events = asyncio.run(scenario())

    assert isinstance(refused, KVCacheFull) and refused.status_code == 503
    assert "256 cells shared by 2 sequences" in str(refused)
    final = events[-1]
    assert isinstance(final, Finished) and final.usage.completion_tokens == 40
