"""The Fine-tuning jobs API through the official OpenAI SDK's `client.fine_tuning.jobs`: a job
is created from an uploaded training file, listed, read, cancelled; a job a worker ran reads
as OpenAI's (fine-tuned model, trained tokens, loss events, checkpoints); wrong requests are
refused before anything is queued."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import openai
import pytest

from corral.accounts.admin import KeySpec
from corral.api.app import create_app
from corral.finetune.billing import TrainingBill
from corral.finetune.handler import FineTuningHandler, TrainingConfig
from corral.finetune.params import KIND
from corral.finetune.quote import Quotes
from corral.jobs import JobQueue
from corral.services import Services
from corral.settings import LicenceConfig
from tests.finetune.conftest import EXAMPLES, jsonl, tiny_base  # noqa: F401
from tests.jobs.conftest import fast_worker, finished, running
from tests.providers.server import serving
from tests.support import echo_entry, in_process_services

BASE = "tiny"
GATED = "tiny-gated"
LICENCE = LicenceConfig(
    id="community", version="1.0", name="A community licence", requires_acceptance=True
)


@dataclass
class Stack:
    services: Services
    sdk: openai.OpenAI
    other: openai.OpenAI


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("fine-tuning-home")
    gguf = home / "tiny.gguf"  # only named: the tests' worker trains a tiny base instead
    gguf.write_bytes(b"GGUF")
    models = [{"name": name, "path": str(gguf)} for name in (BASE, GATED)]
    services = in_process_services(
        home,
        echo_entry(BASE),
        echo_entry("echo"),  # served, but not from a GGUF here: not trainable
        echo_entry(GATED, licence=LICENCE.id),
        models=models,
        licences=[LICENCE],
    )
    keys = {}
    for name in ("acme", "globex"):
        services.accounts.admin.create_tenant(name)
        keys[name] = services.accounts.admin.create_key(name, KeySpec())[1]
    with serving(create_app(services)) as url:
        acme, globex = (
            openai.OpenAI(base_url=f"{url}/v1", api_key=keys[name], max_retries=0)
            for name in ("acme", "globex")
        )
        yield Stack(services, acme, globex)
        acme.close()
        globex.close()
    services.db.close()


def upload(sdk: openai.OpenAI, purpose: Literal["fine-tune", "user_data"] = "fine-tune") -> str:
    made = sdk.files.create(file=("train.jsonl", io.BytesIO(jsonl(EXAMPLES))), purpose=purpose)
    return made.id


def test_a_job_is_created_listed_read_and_cancelled(stack: Stack) -> None:
    sdk = stack.sdk
    training = upload(sdk)
    job = sdk.fine_tuning.jobs.create(
        model=BASE,
        training_file=training,
        suffix="caps",
        seed=42,
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}},
    )
    assert job.id.startswith("ftjob-")
    assert job.status == "validating_files"
    assert (job.model, job.training_file, job.seed) == (BASE, training, 42)
    assert job.hyperparameters.n_epochs == 2
    assert job.hyperparameters.batch_size == 1
    assert job.fine_tuned_model is None

    assert job.id in [listed.id for listed in sdk.fine_tuning.jobs.list()]
    assert sdk.fine_tuning.jobs.retrieve(job.id).status == "validating_files"
    assert [e.message for e in sdk.fine_tuning.jobs.list_events(job.id)] == ["Job created"]

    cancelled = sdk.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled"
    assert cancelled.finished_at is not None
    with pytest.raises(openai.NotFoundError):
        stack.other.fine_tuning.jobs.retrieve(job.id)


def test_wrong_requests_are_refused_before_anything_is_queued(stack: Stack) -> None:
    sdk = stack.sdk
    training = upload(sdk)
    before = len(list(sdk.fine_tuning.jobs.list()))
    with pytest.raises(openai.NotFoundError, match="gpt-4o-mini"):
        sdk.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training)
    with pytest.raises(openai.BadRequestError, match="cannot be fine-tuned"):
        sdk.fine_tuning.jobs.create(model="echo", training_file=training)
    with pytest.raises(openai.BadRequestError, match="No such file"):
        sdk.fine_tuning.jobs.create(model=BASE, training_file="file-nothing")
    with pytest.raises(openai.BadRequestError, match="not 'fine-tune'"):
        sdk.fine_tuning.jobs.create(model=BASE, training_file=upload(sdk, "user_data"))
    with pytest.raises(openai.BadRequestError, match="n_epochs"):
        sdk.fine_tuning.jobs.create(
            model=BASE, training_file=training, hyperparameters={"n_epochs": 0}
        )
    with pytest.raises(openai.BadRequestError, match="supervised"):
        sdk.fine_tuning.jobs.create(model=BASE, training_file=training, method={"type": "dpo"})
    with pytest.raises(openai.NotFoundError):
        sdk.fine_tuning.jobs.retrieve("ftjob-nothing")
    assert len(list(sdk.fine_tuning.jobs.list())) == before


def test_a_base_under_a_licence_is_trained_on_only_once_it_is_accepted(stack: Stack) -> None:
    sdk = stack.other
    training = upload(sdk)
    with pytest.raises(openai.PermissionDeniedError, match="must be accepted"):
        sdk.fine_tuning.jobs.create(model=GATED, training_file=training)
    sdk.post(f"/licences/{LICENCE.id}/accept", cast_to=object, body={})
    assert sdk.fine_tuning.jobs.create(model=GATED, training_file=training).model == GATED


async def test_a_job_a_worker_ran_reads_as_openai_s(stack: Stack, tiny_base: Path) -> None:  # noqa: F811
    sdk = stack.sdk
    job = sdk.fine_tuning.jobs.create(
        model=BASE, training_file=upload(sdk), suffix="caps", hyperparameters={"n_epochs": 1}
    )
    queue = JobQueue(stack.services.db)
    config = TrainingConfig(checkpoint_every=2, max_tokens=64, threads=1, parity=False)
    handler = FineTuningHandler(
        stack.services.db, stack.services.settings, config, base_loader=lambda name: tiny_base
    )
    async with running(fast_worker(queue, {KIND: handler})):
        await finished(queue, job.id)

    done = sdk.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded", done.error
    assert done.fine_tuned_model is not None
    assert done.fine_tuned_model.startswith(f"ft:{BASE}:")
    assert done.fine_tuned_model.endswith(f":caps:{job.id.removeprefix('ftjob-')}")
    assert done.trained_tokens is not None and done.trained_tokens > 0

    events = list(sdk.fine_tuning.jobs.list_events(job.id, limit=100))
    assert events[0].message == "Job succeeded"  # newest first
    metrics = [e for e in events if e.type == "metrics"]
    assert [e.data["step"] for e in metrics] == [4, 3, 2, 1]  # type: ignore[index]
    page = sdk.fine_tuning.jobs.list_events(job.id, limit=2)
    assert page.has_more
    older = sdk.fine_tuning.jobs.list_events(job.id, limit=2, after=page.data[-1].id)
    assert [e.id for e in older.data] == [e.id for e in events[2:4]]

    checkpoints = sdk.fine_tuning.jobs.checkpoints.list(job.id)
    assert [c.step_number for c in checkpoints] == [4, 2]
    assert checkpoints.data[0].fine_tuned_model_checkpoint.startswith(done.fine_tuned_model)


def test_a_job_beyond_the_budget_is_refused_at_creation_as_openai_would(
    stack: Stack,
    tiny_base: Path,  # noqa: F811
) -> None:
    from transformers import AutoTokenizer

    services = stack.services
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_base))
    priced = TrainingBill(services.ledger, services.db, 2_500_000)  # 2.5 per million
    free, services.training_quotes = services.training_quotes, Quotes(priced, lambda m: tokenizer)
    services.accounts.admin.create_tenant("initech", budget_micros=100)
    key = services.accounts.admin.create_key("initech", KeySpec())[1]
    sdk = openai.OpenAI(base_url=str(stack.sdk.base_url), api_key=key, max_retries=0)
    try:
        training = upload(sdk)
        with pytest.raises(openai.RateLimitError, match="more than is left") as refused:
            sdk.fine_tuning.jobs.create(model=BASE, training_file=training)
        assert refused.value.code == "budget_exceeded"
        assert list(sdk.fine_tuning.jobs.list()) == []
    finally:
        services.training_quotes = free
        sdk.close()
