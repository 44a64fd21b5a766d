"""The model graders: a judge model labels or scores the sample. Its answer outside the labels
or the range is the item's error; in a run, the judge is called through the gateway as the
run's owner, so its calls are billed to that tenant, and the manifest names the judge."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from corral.accounts.admin import KeySpec
from corral.backends.base import GenerationRequest, GenerationResult
from corral.errors import InvalidRequest
from corral.evals.graders import build
from corral.evals.runner import KIND
from corral.evals.service import create_eval, create_run
from corral.evals.store import EvalStore
from corral.files.store import FileStore
from corral.jobs import JobQueue
from corral.services import Services
from corral.storage.tables import UsageRecord
from tests.evals.test_graders import Scripted
from tests.evals.test_runner import handler
from tests.fakes import EchoBackend
from tests.jobs.conftest import fast_worker, finished, running
from tests.support import echo_entry, in_process_services

JUDGE_INPUT = [
    {"role": "system", "content": "Is the answer polite? Reply with one word: polite or rude."},
    {"role": "user", "content": "{{sample.output_text}}"},
]
LABELS: dict[str, Any] = {
    "type": "label_model",
    "name": "tone",
    "model": "judge",
    "input": JUDGE_INPUT,
    "labels": ["polite", "rude"],
    "passing_labels": ["polite"],
}
SCORES: dict[str, Any] = {
    "type": "score_model",
    "name": "quality",
    "model": "judge",
    "input": JUDGE_INPUT,
    "range": [1, 10],
    "pass_threshold": 7,
}
SCOPE = {"item": {}, "sample": {"output_text": "Thank you kindly."}}


@pytest.mark.parametrize(
    ("says", "passed"),
    [("polite", True), ("Rude.", False), ('{"label": "polite"}', True), ("It is rude", False)],
)
async def test_label_model_passes_on_a_passing_label(says: str, passed: bool) -> None:
    [grader] = build([LABELS])
    judge = Scripted(judge_says=says)
    grade = await grader.grade(SCOPE, judge)
    assert grade.passed is passed
    [(model, messages)] = judge.judged
    assert model == "judge" and messages[1] == {"role": "user", "content": "Thank you kindly."}


@pytest.mark.parametrize("says", ["impolite-ish", "polite or rude, hard to say", ""])
async def test_a_label_outside_the_set_is_the_items_error(says: str) -> None:
    [grader] = build([LABELS])
    with pytest.raises(InvalidRequest, match="not one of the labels") as refused:
        await grader.grade(SCOPE, Scripted(judge_says=says))
    assert refused.value.code == "bad_item"


@pytest.mark.parametrize(
    ("says", "passed", "score"), [("8", True, 8.0), ('{"result": 3.5}', False, 3.5)]
)
async def test_score_model_passes_at_the_threshold(says: str, passed: bool, score: float) -> None:
    [grader] = build([SCORES])
    grade = await grader.grade(SCOPE, Scripted(judge_says=says))
    assert (grade.passed, grade.score) == (passed, score)


@pytest.mark.parametrize("says", ["11", "no idea"])
async def test_a_score_outside_the_range_is_the_items_error(says: str) -> None:
    [grader] = build([SCORES])
    with pytest.raises(InvalidRequest, match=r"not a number in \[1, 10\]"):
        await grader.grade(SCOPE, Scripted(judge_says=says))


@pytest.mark.parametrize(
    "criterion",
    [
        {**LABELS, "passing_labels": ["kind"]},
        {**LABELS, "labels": []},
        {**LABELS, "model": None},
        {**LABELS, "input": "not messages"},
        {**SCORES, "range": [5, 1]},
        {**SCORES, "pass_threshold": "high"},
    ],
)
def test_malformed_model_graders_are_refused_up_front(criterion: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest, match=r"testing_criteria\[0\]"):
        build([criterion])


class Judge(EchoBackend):
    """Labels an answer 'polite' when it says please, 'rude' when it shouts, else rambles."""

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        text = (request.messages or ())[-1].content
        verdict = "polite" if "please" in text else "rude" if "!" in text else "I cannot say."
        request.meter.completion_tokens = 1
        return GenerationResult(verdict, "stop", self._usage(request, 1))


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = in_process_services(
        tmp_path, echo_entry("echo"), echo_entry("judge", backend=Judge(), tier="premium")
    )
    yield built
    built.db.close()


async def test_a_runs_judge_is_called_as_its_owner_billed_and_named(services: Services) -> None:
    admin = services.accounts.admin
    admin.create_tenant("acme")
    _, key = admin.create_key("acme", KeySpec(name="evals"))
    owner = await services.authenticator.authenticate("Bearer " + key)
    store, queue = EvalStore(services.db), JobQueue(services.db)
    evaluation = await create_eval(store, owner, "tone", {"type": "custom"}, [LABELS], None)
    items = [{"reply": "yes please"}, {"reply": "go away!"}, {"reply": "fine"}]
    source = {
        "type": "completions",
        "model": "echo",
        "source": {"type": "file_content", "content": items},
        "input_messages": {
            "type": "template",
            "template": [{"role": "user", "content": "{{item.reply}}"}],
        },
    }
    files = FileStore(services.db, services.settings.home, services.settings.files)
    job = await create_run(queue, files, evaluation, owner, None, source, None)
    async with running(fast_worker(queue, {KIND: handler(services)})):
        done = await finished(queue, job.id)

    assert done.status == "succeeded", done.error
    assert done.result is not None
    assert done.result["result_counts"] == {"total": 3, "passed": 1, "failed": 1, "errored": 1}
    outputs = await store.all_items(job.id)
    assert outputs[2].sample is not None and outputs[2].sample["error"]["code"] == "bad_item"
    with services.db.read() as session:
        rows = list(session.scalars(select(UsageRecord).where(UsageRecord.model == "judge")))
    assert len(rows) == 3 and {r.tenant_id for r in rows} == {owner.tenant_id}
    [criterion] = done.result["manifest"]["manifest"]["run"]["testing_criteria"]
    assert criterion["model"] == "judge"


def test_a_run_whose_judge_the_key_may_not_use_is_refused(services: Services) -> None:
    import openai

    from corral.api.app import create_app
    from tests.providers.server import serving

    services.accounts.admin.create_tenant("acme")
    _, key = services.accounts.admin.create_key("acme", KeySpec(models=["echo"]))
    source = {
        "type": "completions",
        "model": "echo",
        "source": {"type": "file_content", "content": [{"item": {"reply": "hi"}}]},
        "input_messages": {
            "type": "template",
            "template": [{"role": "user", "content": "{{item.reply}}"}],
        },
    }
    with serving(create_app(services)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
        made = client.evals.create(
            data_source_config={"type": "custom", "item_schema": {}},
            testing_criteria=[LABELS],  # type: ignore[list-item]
        )
        with pytest.raises(openai.APIStatusError) as refused:
            client.evals.runs.create(made.id, data_source=source)  # type: ignore[arg-type]
    assert refused.value.status_code in (403, 404)
    assert "judge" in refused.value.message
