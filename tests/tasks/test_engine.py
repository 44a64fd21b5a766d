"""The task engine: JSON that follows the schema (one repair), chunks, references, language."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from corral.backends.base import GenerationRequest, GenerationResult
from corral.errors import ContextLengthExceeded, InvalidModelOutput
from corral.pipeline.auth import ADMIN
from corral.pipeline.gateway import RequestContext
from corral.services import Services
from corral.tasks.engine import (
    SEED,
    ModelCaller,
    TaskMeta,
    chunks,
    detect_language,
    keep_known,
)
from corral.tasks.schemas import TIPS_OUTPUT, tips_output
from tests.support import echo_entry, in_process_services
from tests.tasks.scripted import ScriptedBackend

GOOD = {"tips": [{"text": "Post videos", "fact_ids": ["format_video"]}]}


Make = Callable[[ScriptedBackend], Awaitable[ModelCaller]]


@pytest.fixture
async def caller_for(tmp_path: Path) -> AsyncIterator[Make]:
    """A task's model caller over a scripted model, on the real gateway."""
    made: list[Services] = []

    async def make(backend: ScriptedBackend) -> ModelCaller:
        services = in_process_services(tmp_path, echo_entry("scripted", backend=backend))
        made.append(services)
        ctx = RequestContext("req_task", ADMIN)
        target = await services.gateway.resolve(ctx, "scripted")
        return ModelCaller(services.gateway, ctx, target, TaskMeta("scripted", "en"))

    yield make
    for services in made:
        await services.ledger.aclose()
        services.db.close()


async def test_a_valid_answer_is_taken_and_metered(caller_for: Make) -> None:
    backend = ScriptedBackend(GOOD)
    caller = await caller_for(backend)

    answer = await caller.ask("system", "facts", TIPS_OUTPUT)

    assert answer == GOOD
    assert (caller.meta.prompt_tokens, caller.meta.completion_tokens) == (10, 5)
    assert backend.requests[0].params.json_schema == TIPS_OUTPUT
    assert backend.requests[0].request_id == "req_task.1"  # a ledger row of its own


async def test_the_model_is_asked_for_the_bounded_form_but_judged_by_the_schema(
    caller_for: Make,
) -> None:
    long_id = {"tips": [{"text": "Post videos", "fact_ids": ["an_id_longer_than_twelve"]}]}
    backend = ScriptedBackend(long_id)
    caller = await caller_for(backend)
    bounded = tips_output(longest_id=12)

    answer = await caller.ask("system", "facts", TIPS_OUTPUT, decode=bounded)

    assert answer == long_id  # an unknown id is for the task to drop, not a reason to fail
    assert backend.requests[0].params.json_schema == bounded
    assert backend.requests[0].params.seed == SEED


async def test_an_invalid_answer_gets_one_repair(caller_for: Make) -> None:
    backend = ScriptedBackend("not json at all", GOOD)
    caller = await caller_for(backend)

    answer = await caller.ask("system", "facts", TIPS_OUTPUT)

    assert answer == GOOD
    assert "not valid" in backend.requests[1].messages[1].content  # type: ignore[index]


async def test_an_answer_still_invalid_after_the_repair_is_an_error(caller_for: Make) -> None:
    bad: dict[str, Any] = {"tips": [{"text": "x"}]}  # fact_ids missing
    caller = await caller_for(ScriptedBackend(bad, bad))

    with pytest.raises(InvalidModelOutput) as failed:
        await caller.ask("system", "facts", TIPS_OUTPUT)

    assert failed.value.code == "invalid_model_output" and "fact_ids" in failed.value.message


async def test_without_repair_an_invalid_answer_is_an_error_at_once(caller_for: Make) -> None:
    backend = ScriptedBackend("not json at all", GOOD)
    caller = await caller_for(backend)

    with pytest.raises(InvalidModelOutput):
        await caller.ask("system", "facts", TIPS_OUTPUT, repair=False)

    assert len(backend.requests) == 1  # the caller has a fallback: no second call


def test_chunks_never_split_a_line_and_respect_the_budget() -> None:
    lines = [f"[{i}] someone: " + "word " * (i % 7 + 1) for i in range(200)]

    runs = chunks(lines, budget=120)

    assert sorted(i for run in runs for i in run) == list(range(200))
    assert all(run == list(range(run[0], run[-1] + 1)) for run in runs)
    assert len(runs) > 1


def test_unknown_references_are_dropped_and_counted() -> None:
    items = [{"text": "a", "post_ids": ["p1", "p9"]}, {"text": "b", "post_ids": ["p2", "p2"]}]

    kept, dropped = keep_known(items, "post_ids", {"p1", "p2"})

    assert [item["post_ids"] for item in kept] == [["p1"], ["p2"]]
    assert dropped == 1


def test_language_is_guessed_from_the_input() -> None:
    assert detect_language(["Wir treffen uns morgen und dann gehen wir"]) == "de"
    assert detect_language(["We meet tomorrow and then we go"]) == "en"


class Cramped(ScriptedBackend):
    """Refuses any prompt of more than three lines, as a small context would."""

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        assert request.messages is not None
        if request.messages[1].content.count("\n") >= 3:
            raise ContextLengthExceeded("too long", param="messages")
        return await super().generate(request)


async def test_a_chunk_that_does_not_fit_after_all_is_halved(caller_for: Make) -> None:
    backend = Cramped(GOOD)
    caller = await caller_for(backend)

    answers = await caller.ask_each([("system", [f"line {i}" for i in range(10)])], TIPS_OUTPUT)

    assert len(answers) >= 4  # 10 lines, at most 3 a call
    asked = [r.messages[1].content for r in backend.requests]  # type: ignore[index]
    assert sorted(line for text in asked for line in text.splitlines()) == sorted(
        f"line {i}" for i in range(10)
    )
