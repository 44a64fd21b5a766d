"""The Evals API through the official OpenAI SDK's `client.evals`: a tenant uploads a dataset,
creates an eval with a string check, starts a run; a worker (another process's services on the
same database) grades it through the gateway, every call billed to the tenant's key; the run,
its items and its signed manifest read back; another tenant sees none of it."""

from __future__ import annotations

import asyncio
import io
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from typer.testing import CliRunner

from corral.accounts.admin import KeySpec
from corral.api.app import create_app
from corral.cli import cli
from corral.evals.manifest import SigningKey, verify
from corral.evals.runner import KIND, EvalDeps, EvalRunHandler
from corral.evals.store import EvalStore
from corral.files.store import FileStore
from corral.jobs import JobQueue
from tests.evals.test_runner import CRITERIA, ITEMS, Capitals
from tests.jobs.conftest import fast_worker, finished, running
from tests.providers.server import serving
from tests.support import echo_entry, in_process_services


@dataclass
class Setup:
    home: Path
    url: str
    keys: dict[str, str]

    def sdk(self, tenant: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=self.keys[tenant], max_retries=0)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    home = tmp_path_factory.mktemp("evals-home")
    services = in_process_services(home, echo_entry("capitals", backend=Capitals()))
    keys = {}
    for name in ("acme", "globex"):
        services.accounts.admin.create_tenant(name)
        keys[name] = services.accounts.admin.create_key(name, KeySpec())[1]
    with serving(create_app(services)) as url:
        yield Setup(home, url, keys)
    services.db.close()


def work_off(home: Path, run_id: str) -> None:
    """What `corral worker` does: run the queued eval with its own services."""
    services = in_process_services(home, echo_entry("capitals", backend=Capitals()))
    deps = EvalDeps(
        services.gateway,
        FileStore(services.db, home, services.settings.files),
        EvalStore(services.db),
        SigningKey.load_or_create(home),
        lambda model: {"id": model},
    )

    async def run() -> None:
        queue = JobQueue(services.db)
        async with running(fast_worker(queue, {KIND: EvalRunHandler(lambda: deps)})):
            await finished(queue, run_id)

    try:
        asyncio.run(run())
    finally:
        services.db.close()


def start(acme: openai.OpenAI) -> tuple[str, str]:
    lines = "".join(json.dumps(row) + "\n" for row in ITEMS).encode()
    dataset = acme.files.create(file=("capitals.jsonl", io.BytesIO(lines)), purpose="evals")
    evaluation = acme.evals.create(
        name="capitals",
        data_source_config={
            "type": "custom",
            "item_schema": {"type": "object", "properties": {"country": {"type": "string"}}},
            "include_sample_schema": True,
        },
        testing_criteria=CRITERIA,  # type: ignore[arg-type]
    )
    run = acme.evals.runs.create(
        evaluation.id,
        name="greedy",
        data_source={
            "type": "completions",
            "model": "capitals",
            "source": {"type": "file_id", "id": dataset.id},
            "input_messages": {
                "type": "template",
                "template": [{"role": "user", "content": "Capital of {{item.country}}"}],
            },
            "sampling_params": {"temperature": 0, "seed": 1},
        },
    )
    assert run.status == "queued"
    return evaluation.id, run.id


def test_a_tenant_runs_an_eval_and_reads_its_signed_results(setup: Setup) -> None:
    acme = setup.sdk("acme")
    eval_id, run_id = start(acme)
    work_off(setup.home, run_id)

    run = acme.evals.runs.retrieve(run_id, eval_id=eval_id)
    assert run.status == "completed"
    assert run.result_counts.model_dump() == {"total": 6, "passed": 5, "failed": 1, "errored": 0}
    assert [r.testing_criteria for r in run.per_testing_criteria_results or []] == [
        "names the capital"
    ]
    assert [r.id for r in acme.evals.runs.list(eval_id)] == [run_id]

    items = list(acme.evals.runs.output_items.list(run_id, eval_id=eval_id))
    assert [i.datasource_item_id for i in items] == [0, 1, 2, 3, 4, 5]
    assert [i.status for i in items].count("fail") == 1
    assert items[0].sample.output[0].content == "The capital is Paris."

    details: dict[str, Any] = run.model_dump()["corral"]
    assert details["done"] == 6 and details["scores"]["names the capital"]["pass_rate_ci95"]
    key = httpx.get(
        f"{setup.url}/v1/evals/signing-key",
        headers={"Authorization": f"Bearer {setup.keys['acme']}"},
    ).json()
    manifest = details["manifest"]
    assert verify(manifest, trusted_public_key=key["public_key"]) is None
    assert manifest["manifest"]["dataset"]["items"] == 6

    # Each item's call was billed to acme like any request.
    usage = httpx.get(
        f"{setup.url}/v1/usage", headers={"Authorization": f"Bearer {setup.keys['acme']}"}
    ).json()
    requests = sum(r["requests"] for bucket in usage["data"] for r in bucket["results"])
    assert requests == 6


def test_another_tenant_sees_nothing_of_it(setup: Setup) -> None:
    eval_id, run_id = start(setup.sdk("acme"))
    globex = setup.sdk("globex")
    with pytest.raises(openai.NotFoundError):
        globex.evals.retrieve(eval_id)
    with pytest.raises(openai.NotFoundError):
        globex.evals.runs.retrieve(run_id, eval_id=eval_id)
    assert list(globex.evals.list()) == []


def test_an_eval_corral_cannot_grade_is_refused_when_created(setup: Setup) -> None:
    with pytest.raises(openai.BadRequestError, match="evaluation_metric"):
        setup.sdk("acme").evals.create(
            data_source_config={"type": "custom", "item_schema": {}},
            testing_criteria=[
                {
                    "type": "text_similarity",
                    "name": "meteor",
                    "input": "{{sample.output_text}}",
                    "reference": "{{item.answer}}",
                    "evaluation_metric": "meteor",
                    "pass_threshold": 0.5,
                }
            ],
        )


def test_a_run_without_messages_for_an_eval_that_grades_answers_is_refused(setup: Setup) -> None:
    acme = setup.sdk("acme")
    evaluation = acme.evals.create(
        data_source_config={"type": "custom", "item_schema": {}},
        testing_criteria=CRITERIA,  # type: ignore[arg-type]
    )
    source: Any = {
        "type": "completions",
        "model": "capitals",
        "source": {"type": "file_content", "content": ITEMS},
    }
    with pytest.raises(openai.BadRequestError, match="input_messages"):
        acme.evals.runs.create(evaluation.id, data_source=source)


class Renamed(Capitals):
    """The same model, except that it now answers Japan's capital differently."""

    async def generate(self, request: Any) -> Any:
        result = await super().generate(request)
        if "Japan" in request.messages[-1].content:
            return type(result)("The capital is Edo.", "stop", result.usage)
        return result


@contextmanager
def worker_in_background(home: Path, backend: Capitals) -> Iterator[None]:
    """A `corral worker` for the block: its own services and event loop, in a thread."""
    services = in_process_services(home, echo_entry("capitals", backend=backend))
    deps = EvalDeps(
        services.gateway,
        FileStore(services.db, home, services.settings.files),
        EvalStore(services.db),
        SigningKey.load_or_create(home),
        lambda model: {"id": model},
    )
    worker = fast_worker(JobQueue(services.db), {KIND: EvalRunHandler(lambda: deps)})
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(worker.run(),))
    thread.start()
    try:
        yield
    finally:
        loop.call_soon_threadsafe(worker.stop)
        thread.join(10)
        loop.close()
        services.db.close()


def test_verify_rerun_counts_the_items_that_reproduce(setup: Setup, tmp_path: Path) -> None:
    acme = setup.sdk("acme")
    eval_id, run_id = start(acme)
    work_off(setup.home, run_id)
    details = acme.evals.runs.retrieve(run_id, eval_id=eval_id).model_dump()["corral"]
    manifest = tmp_path / "run.manifest.json"
    manifest.write_text(json.dumps(details["manifest"]))
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("CORRAL_")}
    env |= {"CORRAL_URL": setup.url, "CORRAL_API_KEY": setup.keys["acme"]}
    args = ["eval", "verify", str(manifest), "--rerun"]

    with worker_in_background(setup.home, Capitals()):
        same = CliRunner().invoke(cli(args), args, env=env)
        sampled = CliRunner().invoke(cli(args), [*args, "--sample", "3"], env=env)
    with worker_in_background(setup.home, Renamed()):
        changed = CliRunner().invoke(cli(args), args, env=env)

    assert same.exit_code == 0, same.output
    assert "6 of 6 items reproduce exactly" in same.stdout
    assert "3 of 3 items reproduce exactly" in sampled.stdout
    assert changed.exit_code == 1
    assert "5 of 6 items reproduce exactly" in changed.stdout
    assert "differ: items 5" in changed.stderr


def test_the_leaderboard_ranks_the_finished_run_by_its_dataset(setup: Setup) -> None:
    acme = setup.sdk("acme")
    eval_id, run_id = start(acme)
    work_off(setup.home, run_id)
    run = acme.evals.runs.retrieve(run_id, eval_id=eval_id)
    dataset = run.model_dump()["corral"]["manifest"]["manifest"]["dataset"]
    headers = {"Authorization": f"Bearer {setup.keys['acme']}"}

    by_file = httpx.get(
        f"{setup.url}/v1/evals/leaderboard", params={"dataset": dataset["file_id"]}, headers=headers
    ).json()
    by_sha = httpx.get(
        f"{setup.url}/v1/evals/leaderboard", params={"dataset": dataset["sha256"]}, headers=headers
    ).json()
    elsewhere = httpx.get(
        f"{setup.url}/v1/evals/leaderboard",
        params={"dataset": dataset["sha256"]},
        headers={"Authorization": f"Bearer {setup.keys['globex']}"},
    ).json()

    [row] = by_file["data"]
    assert by_sha == by_file and by_file["dataset"] == dataset["sha256"]
    assert (row["model"], row["rank"], row["n"]) == ("capitals", 1, 6)
    assert row["pass_rate"] == 5 / 6 and row["pass_rate_ci95"][0] <= 5 / 6
    assert row["standing"] == "unknown"  # this worker records no digest for its test model
    assert elsewhere["data"] == []  # another tenant's runs are not on its board


def test_an_eval_graded_by_rouge_l_scores_each_answer_against_its_reference(setup: Setup) -> None:
    acme = setup.sdk("acme")
    evaluation = acme.evals.create(
        data_source_config={"type": "custom", "item_schema": {}},
        testing_criteria=[
            {
                "type": "text_similarity",
                "name": "rouge",
                "input": "{{sample.output_text}}",
                "reference": "The capital is {{item.answer}}.",
                "evaluation_metric": "rouge_l",
                "pass_threshold": 0.9,
            }
        ],
    )
    source: Any = {
        "type": "completions",
        "model": "capitals",
        "source": {"type": "file_content", "content": ITEMS},
        "input_messages": {
            "type": "template",
            "template": [{"role": "user", "content": "Capital of {{item.country}}"}],
        },
    }
    run = acme.evals.runs.create(evaluation.id, data_source=source)
    work_off(setup.home, run.id)

    done = acme.evals.runs.retrieve(run.id, eval_id=evaluation.id)
    items = list(acme.evals.runs.output_items.list(run.id, eval_id=evaluation.id))
    assert done.result_counts.model_dump() == {"total": 6, "passed": 5, "failed": 1, "errored": 0}
    # Chile: "the capital is santiago" against "the capital is lima": 3 of 4 words in order.
    scores = [item.results[0].score for item in items]
    assert scores == [1.0, 1.0, 1.0, 1.0, 0.75, 1.0]
