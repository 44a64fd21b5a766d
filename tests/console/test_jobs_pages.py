"""The fine-tuning and evaluation pages over HTTP: a tenant sees its own jobs, evaluations and
runs, as the API reports them, and nothing of another tenant's."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator

import openai
import pytest

from corral.finetune.params import JOB_PREFIX, KIND, VALIDATING
from tests.console.server import ECHO, Console, running_console, signed_in
from tests.evals.test_runner import CRITERIA, ITEMS
from tests.support import in_process_services


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    home = tmp_path_factory.mktemp("console-jobs")
    with running_console(home, embedded=False, jobs={"worker_in_server": False}) as running:
        yield running


def _fine_tuning_job(console: Console, tenant_id: str) -> str:
    """A job as `POST /v1/fine_tuning/jobs` queues it (written to the same database: that
    route wants a trainable GGUF base, which this console has not)."""
    services = in_process_services(console.home)
    params = {
        "model": "SmolLM2-135M-Instruct",
        "training_file": "file-abc",
        "validation_file": None,
        "suffix": "support",
        "seed": 7,
        "hyperparameters": {"n_epochs": 2, "batch_size": 1, "learning_rate_multiplier": 1.0},
        "metadata": None,
    }
    try:
        job = asyncio.run(
            services.jobs.submit(KIND, tenant_id, params, status=VALIDATING, id_prefix=JOB_PREFIX)
        )
    finally:
        services.db.close()
    return job.id


def _eval_run(console: Console, key: str) -> tuple[str, str]:
    client = openai.OpenAI(base_url=console.base_url + "/v1", api_key=key, max_retries=0)
    lines = "".join(json.dumps(row) + "\n" for row in ITEMS).encode()
    dataset = client.files.create(file=("capitals.jsonl", io.BytesIO(lines)), purpose="evals")
    evaluation = client.evals.create(
        name="capitals <quiz>",
        data_source_config={"type": "custom", "item_schema": {"type": "object"},
                            "include_sample_schema": True},
        testing_criteria=CRITERIA,  # type: ignore[arg-type]
    )  # fmt: skip
    run = client.evals.runs.create(
        evaluation.id,
        name="greedy",
        data_source={
            "type": "completions",
            "model": ECHO,
            "source": {"type": "file_id", "id": dataset.id},
            "input_messages": {
                "type": "template",
                "template": [{"role": "user", "content": "{{item.country}}"}],
            },
        },
    )
    return evaluation.id, run.id


def test_a_tenant_sees_its_jobs_and_runs_and_not_anothers(console: Console) -> None:
    acme, globex = console.tenants["acme"], console.tenants["globex"]
    job_id = _fine_tuning_job(console, acme.id)
    eval_id, run_id = _eval_run(console, acme.key)
    with signed_in(console, acme.key) as client:
        jobs = client.get("/console/fine-tuning").text
        evals = client.get("/console/evals").text
    with signed_in(console, globex.key) as client:
        other_jobs = client.get("/console/fine-tuning").text
        other_evals = client.get("/console/evals").text

    assert f'<tr id="{job_id}">' in jobs and "validating_files" in jobs
    assert "SmolLM2-135M-Instruct" in jobs
    assert f'<tr id="{run_id}">' in evals and f'<tr id="{eval_id}">' in evals
    assert "capitals &lt;quiz&gt;" in evals and "queued" in evals
    assert job_id not in other_jobs and "No fine-tuning jobs yet." in other_jobs
    assert run_id not in other_evals and eval_id not in other_evals
    assert "No evaluation runs yet." in other_evals
