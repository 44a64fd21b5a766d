"""The built-in suites ship inside corral: their items are checked here (answers in range,
arithmetic that adds up, schemas that can be met, placeholders that occur), and a run names a
suite as its source, through the openai SDK; its manifest records the suite and its SHA-256."""

from __future__ import annotations

import ast
import asyncio
import hashlib
import json
import operator
import re
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import openai
import pytest

from corral.api.app import create_app
from corral.backends.base import GenerationRequest, GenerationResult
from corral.evals import suites
from corral.evals.runner import KIND
from corral.jobs import JobQueue
from corral.services import Services
from tests.evals.test_runner import handler
from tests.fakes import EchoBackend
from tests.jobs.conftest import fast_worker, finished, running
from tests.providers.server import serving
from tests.support import ADMIN_KEY, echo_entry, in_process_services

_OPS: dict[type, Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}


def arithmetic(expression: str) -> int:
    """An integer expression of + - * // % ** and brackets, and nothing else."""

    def value(node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.FloorDiv) and left % right:
                # only a ceiling (-(-a // b)) may round: it is written as a negated division
                assert left < 0, f"{expression}: {left} // {right} is not exact"
            return int(_OPS[type(node.op)](left, right))
        raise AssertionError(f"{expression}: not plain arithmetic")

    return value(ast.parse(expression, mode="eval").body)


def items(name: str) -> list[dict[str, Any]]:
    return suites.get(name).items()[0]


@pytest.mark.parametrize("name", ["mc-reading-en", "mc-reading-de"])
def test_reading_items_have_four_options_and_balanced_answers(name: str) -> None:
    rows = items(name)
    assert len(rows) >= 40 and len({r["id"] for r in rows}) == len(rows)
    for row in rows:
        assert row["passage"] and row["question"].endswith("?")
        assert len(set(row["choices"])) == 4 and 0 <= row["answer"] < 4
    assert min(Counter(r["answer"] for r in rows).values()) >= 10


def test_every_arithmetic_answer_is_what_its_working_gives() -> None:
    rows = items("arithmetic")
    assert len(rows) >= 40
    for row in rows:
        assert type(row["answer"]) is int
        assert arithmetic(row["working"]) == row["answer"], row["id"]


def test_every_schema_is_valid_and_can_be_met() -> None:
    rows = items("json-schema")
    assert len(rows) >= 20
    for row in rows:
        jsonschema.Draft202012Validator.check_schema(row["schema"])
        jsonschema.Draft202012Validator(row["schema"]).validate(row["example"])


def test_every_probe_holds_its_two_placeholders() -> None:
    rows = items("privacy-probe")
    assert len(rows) >= 20
    for row in rows:
        found = re.findall(r"\[[A-Z]+_\d+\]", row["text"])
        assert found == row["placeholders"] and len(set(found)) == 2


def test_unknown_suites_are_refused() -> None:
    with pytest.raises(Exception, match="No built-in suite 'nope'"):
        suites.get("nope")


class Arithmetic(EchoBackend):
    """Answers the suite's problems from their answers, wrong on the first."""

    def __init__(self) -> None:
        self.answers = {r["question"]: r["answer"] for r in items("arithmetic")}
        self.first = items("arithmetic")[0]["question"]

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        question = (request.messages or ())[-1].content
        answer = self.answers[question] + (1 if question == self.first else 0)
        request.meter.completion_tokens = 4
        return GenerationResult(f"So the answer is {answer}", "stop", self._usage(request, 4))


def test_a_suite_is_listed_created_and_run_through_the_sdk(tmp_path: Path) -> None:
    services = in_process_services(tmp_path, echo_entry("maths", backend=Arithmetic()))
    suite = suites.get("arithmetic")
    with serving(create_app(services)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=ADMIN_KEY, max_retries=0)
        listed = client.get("/evals/suites", cast_to=object)
        made = client.evals.create(
            name=suite.name,
            data_source_config=suite.data_source_config(),  # type: ignore[arg-type]
            testing_criteria=suite.testing_criteria,  # type: ignore[arg-type]
        )
        with pytest.raises(openai.BadRequestError, match="No built-in suite"):
            bad = {**suite.data_source("maths"), "source": {"type": "corral_suite", "name": "x"}}
            client.evals.runs.create(made.id, data_source=bad)  # type: ignore[arg-type]
        run = client.evals.runs.create(made.id, data_source=suite.data_source("maths"))  # type: ignore[arg-type]
    assert run.status == "queued"
    assert {s["name"] for s in listed["data"]} == set(suites.SUITES)  # type: ignore[index]

    result = asyncio.run(work_off(services, run.id))
    services.db.close()
    assert result["result_counts"] == {"total": 44, "passed": 43, "failed": 1, "errored": 0}
    dataset = result["manifest"]["manifest"]["dataset"]
    sha = hashlib.sha256(suite.data()).hexdigest()
    assert dataset == {"suite": "arithmetic", "sha256": sha, "items": 44}


async def work_off(services: Services, run_id: str) -> dict[str, Any]:
    queue = JobQueue(services.db)
    async with running(fast_worker(queue, {KIND: handler(services)})):
        job = await finished(queue, run_id)
    assert job.status == "succeeded", job.error
    assert job.result is not None
    return job.result


def test_the_privacy_probe_passes_a_model_that_repeats_the_text(tmp_path: Path) -> None:
    """The echo repeats the text, so it keeps every placeholder: all 22 items pass."""
    from corral.evals.service import create_eval, create_run
    from corral.evals.store import EvalStore
    from corral.files.store import FileStore
    from corral.pipeline.auth import ADMIN

    services = in_process_services(tmp_path, echo_entry("echo", context_length=1000))
    suite = suites.get("privacy-probe")

    async def go() -> dict[str, Any]:
        store = EvalStore(services.db)
        made = await create_eval(
            store, ADMIN, suite.name, suite.data_source_config(), suite.testing_criteria, None
        )
        files = FileStore(services.db, services.settings.home, services.settings.files)
        job = await create_run(
            JobQueue(services.db), files, made, ADMIN, None, suite.data_source("echo"), None
        )
        return await work_off(services, job.id)

    try:
        result = asyncio.run(go())
    finally:
        services.db.close()
    assert result["result_counts"]["passed"] == 22
    assert json.dumps(result["per_testing_criteria_results"]).count('"failed": 0') == 2
