"""An eval run is a job: it grades each item through the gateway, checkpoints after each, and
a run interrupted halfway resumes at the first unfinished item, grading and billing every item
once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from corral.backends.base import GenerationRequest, GenerationResult
from corral.evals.manifest import SigningKey, verify
from corral.evals.runner import KIND, EvalDeps, EvalRunHandler
from corral.evals.service import create_eval, create_run
from corral.evals.store import EvalStore
from corral.files.store import FileStore
from corral.jobs import JobQueue
from corral.pipeline.auth import ADMIN
from corral.services import Services
from corral.storage import Database
from corral.storage.tables import UsageRecord
from tests.fakes import EchoBackend
from tests.jobs.conftest import eventually, fast_worker, finished, running
from tests.support import echo_entry, in_process_services

CAPITALS = [("France", "Paris"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Peru", "Lima")]
ITEMS = [{"item": {"country": c, "answer": a}} for c, a in CAPITALS] + [
    {"item": {"country": "Chile", "answer": "Lima"}},  # the echo answers Santiago: a fail
    {"item": {"country": "Japan", "answer": "Tokyo"}},
]
ANSWERS = dict([*CAPITALS, ("Chile", "Santiago"), ("Japan", "Tokyo")])
CRITERIA = [
    {
        "type": "string_check",
        "name": "names the capital",
        "input": "{{sample.output_text}}",
        "reference": "{{item.answer}}",
        "operation": "ilike",
    }
]


class Capitals(EchoBackend):
    """Answers a country with its capital; counts the calls per country; may hold one."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.hold: str | None = None
        self.held = asyncio.Event()

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        country = (request.messages or ())[-1].content.split()[-1]
        self.calls[country] += 1
        if country == self.hold:
            request.meter.completion_tokens = 2  # made before the worker stopped: billed
            self.held.set()
            await asyncio.Event().wait()  # until the worker is stopped
        answer = f"The capital is {ANSWERS[country]}."
        request.meter.completion_tokens = 5
        return GenerationResult(answer, "stop", self._usage(request, 5))


@pytest.fixture
def backend() -> Capitals:
    return Capitals()


@pytest.fixture
def services(tmp_path: Path, backend: Capitals, database_url: str) -> Iterator[Services]:
    """On SQLite and on PostgreSQL (where workers on several machines share the queue)."""
    built = in_process_services(
        tmp_path, echo_entry("capitals", backend=backend), database_url=database_url
    )
    yield built
    built.db.close()


def handler(services: Services) -> EvalRunHandler:
    home = services.settings.home
    deps = EvalDeps(
        services.gateway,
        FileStore(services.db, home, services.settings.files),
        EvalStore(services.db),
        SigningKey.load_or_create(home),
        lambda model: {"id": model},
    )
    return EvalRunHandler(lambda: deps)


async def start_run(services: Services) -> str:
    store = EvalStore(services.db)
    evaluation = await create_eval(
        store, ADMIN, "capitals", {"type": "custom", "item_schema": {}}, CRITERIA, None
    )
    source: dict[str, Any] = {
        "type": "completions",
        "model": "capitals",
        "source": {"type": "file_content", "content": ITEMS},
        "input_messages": {
            "type": "template",
            "template": [{"role": "user", "content": "Capital of {{item.country}}"}],
        },
        "sampling_params": {"temperature": 0, "seed": 3},
    }
    files = FileStore(services.db, services.settings.home, services.settings.files)
    job = await create_run(JobQueue(services.db), files, evaluation, ADMIN, None, source, None)
    return job.id


async def test_a_run_grades_every_item_and_signs_its_manifest(services: Services) -> None:
    queue = JobQueue(services.db)
    run_id = await start_run(services)
    async with running(fast_worker(queue, {KIND: handler(services)})):
        job = await finished(queue, run_id)
    assert job.status == "succeeded", job.error
    assert job.result is not None
    assert job.result["result_counts"] == {"total": 6, "passed": 5, "failed": 1, "errored": 0}
    assert job.result["per_testing_criteria_results"] == [
        {"testing_criteria": "names the capital", "passed": 5, "failed": 1}
    ]
    score = job.result["scores"]["names the capital"]
    low, high = score["pass_rate_ci95"]
    assert score["pass_rate"] == pytest.approx(5 / 6)
    assert low < score["pass_rate"] <= high
    manifest = job.result["manifest"]
    assert verify(manifest) is None
    assert len(manifest["manifest"]["items"]) == 6
    assert manifest["manifest"]["run"]["seed"] == 3


async def test_a_run_stopped_halfway_resumes_and_grades_each_item_once(
    services: Services, backend: Capitals
) -> None:
    queue = JobQueue(services.db)
    run_id = await start_run(services)
    backend.hold = "Peru"  # the fourth item
    first = fast_worker(queue, {KIND: handler(services)})
    async with running(first):
        await asyncio.wait_for(backend.held.wait(), 10)
    job = await queue.get(run_id)
    assert job.status == "queued" and job.progress.done == 3

    backend.hold = None
    async with running(fast_worker(queue, {KIND: handler(services)})):
        job = await eventually(lambda: queue.get(run_id), lambda j: j.finished)
    assert job.status == "succeeded" and job.attempts == 2
    # Only the item in flight when the worker stopped was asked again.
    assert backend.calls == {"France": 1, "Italy": 1, "Spain": 1, "Peru": 2, "Chile": 1, "Japan": 1}
    items = await EvalStore(services.db).all_items(run_id)
    assert [i.index for i in items] == [0, 1, 2, 3, 4, 5]
    assert job.result is not None and job.result["result_counts"]["passed"] == 5
    # Billed once each: the call cut short for what it had made, its second asking not again.
    bills = ledger(services, run_id)
    assert sorted(bills) == [f"{run_id}-{i}-1" for i in range(6)]
    assert bills[f"{run_id}-3-1"] == ("cancelled", 2)
    assert {bills[f"{run_id}-{i}-1"] for i in (0, 1, 2, 4, 5)} == {("completed", 5)}


class DiesAfterBilling(JobQueue):
    """A worker's queue that never gets the checkpoint of item `index` written: as if the
    worker died after the item's call was billed and before its grades were saved."""

    def __init__(self, db: Database, index: int) -> None:
        super().__init__(db)
        self.index = index
        self.stuck = asyncio.Event()

    async def save_checkpoint(
        self, claim: Any, state: dict[str, Any], *args: Any, **kw: Any
    ) -> None:
        if state["done"] == self.index + 1:
            self.stuck.set()
            await asyncio.Event().wait()
        await super().save_checkpoint(claim, state, *args, **kw)


async def test_an_item_billed_but_not_saved_when_its_worker_died_is_billed_once(
    services: Services, backend: Capitals
) -> None:
    queue = JobQueue(services.db)
    run_id = await start_run(services)
    dying = DiesAfterBilling(services.db, 2)
    async with running(fast_worker(dying, {KIND: handler(services)})):
        await asyncio.wait_for(dying.stuck.wait(), 10)
    assert ledger(services, run_id)[f"{run_id}-2-1"] == ("completed", 5)

    async with running(fast_worker(queue, {KIND: handler(services)})):
        job = await eventually(lambda: queue.get(run_id), lambda j: j.finished)
    assert job.status == "succeeded" and job.attempts == 2
    assert backend.calls["Spain"] == 2  # asked again: its answer was lost with the worker
    bills = ledger(services, run_id)
    assert sorted(bills) == [f"{run_id}-{i}-1" for i in range(6)]  # billed once all the same


def ledger(services: Services, run_id: str) -> dict[str, tuple[str, int]]:
    """The run's usage records: request id -> (outcome, completion tokens)."""
    query = select(UsageRecord).where(UsageRecord.request_id.startswith(run_id))
    with services.db.read() as session:
        return {r.request_id: (r.outcome, r.completion_tokens) for r in session.scalars(query)}


async def test_a_running_eval_is_cancelled_within_a_heartbeat(
    services: Services, backend: Capitals
) -> None:
    queue = JobQueue(services.db)
    run_id = await start_run(services)
    backend.hold = "Spain"
    async with running(fast_worker(queue, {KIND: handler(services)})):
        await asyncio.wait_for(backend.held.wait(), 10)
        await queue.request_cancel(run_id)
        job = await finished(queue, run_id)
    assert job.status == "cancelled" and job.progress.done == 2
    assert [i.index for i in await EvalStore(services.db).all_items(run_id)] == [0, 1]
