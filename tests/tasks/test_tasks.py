"""The three tasks on a scripted model: map-reduce when the input does not fit, references
checked against the input, facts passed through exactly, and `meta` telling what happened."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from corral.api.tasks.protocol import ExplainRequest, SummarizeRequest, TipsRequest
from corral.api.tasks.serving import TaskServing
from corral.backends.base import GenerationRequest, GenerationResult
from corral.errors import ContextLengthExceeded
from corral.pipeline.auth import ADMIN
from corral.pipeline.gateway import RequestContext
from corral.services import Services
from corral.tasks.explain import PICK_TOKENS
from corral.tasks.schemas import RESPONSE_SCHEMAS
from tests.support import echo_entry, in_process_services
from tests.tasks.scripted import ScriptedBackend

Serve = Callable[[ScriptedBackend, int], Awaitable[TaskServing]]
TOPICS = {
    "topics": [
        {"title": "Trip", "points": [{"text": "A trip is planned", "post_ids": ["p1", "p404"]}]}
    ]
}


@pytest.fixture
async def serving(tmp_path: Path) -> AsyncIterator[Serve]:
    made: list[Services] = []

    async def make(backend: ScriptedBackend, context_length: int = 8192) -> TaskServing:
        entry = echo_entry("scripted", backend=backend, context_length=context_length)
        services = in_process_services(tmp_path / str(len(made)), entry)
        made.append(services)
        return TaskServing(services.gateway)

    yield make
    for services in made:
        await services.ledger.aclose()
        services.db.close()


def posts(count: int) -> list[dict[str, Any]]:
    return [
        {"id": f"p{i}", "author": f"user{i % 5}", "time": "2026-11-01T10:00:00Z",
         "text": f"Post number {i} about the club trip to the lake and who drives."}
        for i in range(1, count + 1)
    ]  # fmt: skip


def ctx() -> RequestContext:
    return RequestContext("req_task", ADMIN)


def cited_id(schema: Any, *path: str) -> Any:
    """The schema of one cited id, found through the named arrays of objects."""
    for name in path:
        schema = schema["items"] if schema.get("type") == "array" else schema
        schema = schema["properties"][name]
    return schema["items"]


async def test_a_feed_that_fits_is_one_call_and_unknown_ids_are_dropped(serving: Serve) -> None:
    backend = ScriptedBackend(TOPICS)
    tasks = await serving(backend, 8192)

    answer = await tasks.summarize(
        ctx(), SummarizeRequest(model="scripted", posts=posts(5), mode="thorough")
    )

    jsonschema.validate(answer, RESPONSE_SCHEMAS["summarize"])
    assert answer["topics"][0]["points"][0]["post_ids"] == ["p1"]
    assert answer["meta"]["dropped_references"] == 1
    assert (answer["meta"]["chunks"], len(backend.requests)) == (1, 1)
    asked = backend.requests[0].params.json_schema
    assert cited_id(asked, "topics", "points", "post_ids") == {"type": "string", "maxLength": 2}


async def test_a_feed_too_long_for_the_model_is_mapped_then_merged(serving: Serve) -> None:
    backend = ScriptedBackend(TOPICS)
    tasks = await serving(backend, 1200)  # room for a few posts per call

    answer = await tasks.summarize(
        ctx(), SummarizeRequest(model="scripted", posts=posts(60), mode="thorough")
    )

    chunks = answer["meta"]["chunks"]
    assert chunks > 2
    assert len(backend.requests) > chunks  # the map calls, then merging calls
    sent = [r.messages[1].content for r in backend.requests[:chunks]]  # type: ignore[index]
    assert all(f"[p{i}]" in "\n".join(sent) for i in range(1, 61))  # every post read once
    assert answer["topics"][0]["points"][0]["post_ids"] == ["p1"]


async def test_a_conversation_gets_its_participants_counted_in_code(serving: Serve) -> None:
    backend = ScriptedBackend(
        {
            "explanation": "They plan a trip.",
            "decisions": [{"text": "Go on Saturday", "message_ids": [2, 99]}],
            "open_questions": [{"text": "Who drives?", "message_ids": [3], "waiting_on": "Ben"}],
        }
    )
    tasks = await serving(backend, 8192)
    messages = [
        {"author": "Anna", "text": "Trip on Saturday?"},
        {"author": "Ben", "text": "Yes, Saturday works"},
        {"author": "Anna", "text": "Who drives?"},
    ]

    answer = await tasks.explain(
        ctx(), ExplainRequest(model="scripted", messages=messages, mode="thorough")
    )

    jsonschema.validate(answer, RESPONSE_SCHEMAS["explain-conversation"])
    assert answer["participants"] == [
        {"name": "Anna", "message_count": 2},
        {"name": "Ben", "message_count": 1},
    ]
    assert answer["decisions"][0]["message_ids"] == [2]
    assert answer["meta"]["dropped_references"] == 1


async def test_a_chat_too_long_for_the_model_is_narrowed_to_its_key_messages(
    serving: Serve,
) -> None:
    def answer(request: GenerationRequest) -> dict[str, Any]:
        prompt = request.messages[1].content  # type: ignore[index]
        assert isinstance(prompt, str)
        if request.params.max_tokens == PICK_TOKENS:  # a chunk: its decisions, and a stray id
            decisions = re.findall(r"\[(\d+)\] \w+: We decide", prompt)
            return {"ids": [int(i) for i in decisions] + [9999]}
        return {
            "explanation": "They decided things.",
            "decisions": [{"text": "Lake", "message_ids": [25, 9998]}],
            "open_questions": [],
        }

    backend = ScriptedBackend(answer)
    tasks = await serving(backend, 1200)
    messages = [
        {"author": "Anna" if i % 2 else "Ben",
         "text": f"We decide on stop {i}." if i % 25 == 0 else f"Chatting about the weather, {i}."}
        for i in range(1, 301)
    ]  # fmt: skip

    result = await tasks.explain(
        ctx(), ExplainRequest(model="scripted", messages=messages, mode="thorough")
    )

    chunks = result["meta"]["chunks"]
    assert chunks > 2 and len(backend.requests) == chunks + 1
    mapped = "\n".join(r.messages[1].content for r in backend.requests[:chunks])  # type: ignore[index]
    assert all(f"[{i}] " in mapped for i in range(1, 301))  # every message read once
    final = backend.requests[-1].messages[1].content  # type: ignore[index]
    assert isinstance(final, str) and "A chat of 300 messages" in final
    assert re.findall(r"\[(\d+)\]", final) == [str(i) for i in range(25, 301, 25)]
    assert result["decisions"] == [{"text": "Lake", "message_ids": [25]}]
    assert result["meta"]["dropped_references"] == chunks + 1  # a stray id per chunk, and 9998


async def test_a_chat_chunk_too_long_after_all_is_named_in_halves(serving: Serve) -> None:
    class Cramped(ScriptedBackend):
        async def generate(self, request: GenerationRequest) -> GenerationResult:
            prompt = request.messages[1].content  # type: ignore[index]
            if request.params.max_tokens == PICK_TOKENS and prompt.count("\n") > 20:
                raise ContextLengthExceeded("too long", param="messages")
            return await super().generate(request)

    def answer(request: GenerationRequest) -> dict[str, Any]:
        if request.params.max_tokens == PICK_TOKENS:  # name the first message of each half
            return {"ids": [int(re.findall(r"\[(\d+)\]", request.messages[1].content)[0])]}  # type: ignore[index]
        return {"explanation": "Chat.", "decisions": [], "open_questions": []}

    backend = Cramped(answer)
    tasks = await serving(backend, 1200)
    messages = [{"author": "Anna", "text": f"Message number {i} of the day."} for i in range(200)]

    result = await tasks.explain(
        ctx(), ExplainRequest(model="scripted", messages=messages, mode="thorough")
    )

    halves = [r for r in backend.requests if r.params.max_tokens == PICK_TOKENS]
    assert len(halves) > result["meta"]["chunks"]  # some chunks were answered in halves
    answered = [r for r in halves if r.messages[1].content.count("\n") <= 20]  # type: ignore[index]
    named = [re.findall(r"\[(\d+)\]", r.messages[1].content)[0] for r in answered]  # type: ignore[index]
    final = backend.requests[-1].messages[1].content  # type: ignore[index]
    kept = re.findall(r"^\[(\d+)\]", final, re.MULTILINE)
    assert kept == sorted(named, key=int)  # every half's pick went on, in chat order
    assert result["meta"]["dropped_references"] == 0


async def test_tips_rest_on_facts_computed_in_code(serving: Serve) -> None:
    backend = ScriptedBackend({"tips": [{"text": "More of it", "fact_ids": ["nope"]}]})
    tasks = await serving(backend, 8192)
    csv = "id,time,format,views,likes,comments,shares\n" + "\n".join(
        f"p{i},2026-10-{i + 1:02d}T18:00:00Z,video,{1000 + i},{100 + i},{10},{5}" for i in range(12)
    )

    answer = await tasks.tips(ctx(), TipsRequest(model="scripted", csv=csv))

    jsonschema.validate(answer, RESPONSE_SCHEMAS["creator-tips"])
    fact_ids = {fact["id"] for fact in answer["facts"]}
    # the model's only tip cites no fact it was given: dropped, and code writes the tips
    assert answer["facts"] and answer["meta"]["fallback"] is True
    assert all(tip["fact_ids"] and set(tip["fact_ids"]) <= fact_ids for tip in answer["tips"])
    longest = max(len(fact_id) for fact_id in fact_ids)
    asked = backend.requests[0].params.json_schema
    assert cited_id(asked, "tips", "fact_ids") == {"type": "string", "maxLength": longest}
    assert all(f"[{fact_id}]" in backend.requests[0].messages[1].content for fact_id in fact_ids)  # type: ignore[index]
