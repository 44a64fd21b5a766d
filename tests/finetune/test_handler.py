"""A fine-tuning job through a real worker, on a tiny base: its loss reported step by step, its
adapter written (PEFT's files and a GGUF LoRA), and, when its worker stops mid-job, resumed
from its last checkpoint into the very adapter an uninterrupted run makes."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from corral.files.store import FileStore
from corral.finetune.handler import FineTuningHandler, TrainingConfig
from corral.finetune.params import JOB_PREFIX, KIND, VALIDATING
from corral.jobs import Job, JobContext, JobQueue
from corral.money import cost_micros
from corral.settings import Settings, load_settings
from corral.storage import Database, open_database
from corral.storage.tables import FineTunedModel, UsageRecord
from tests.finetune.conftest import EXAMPLES, jsonl
from tests.jobs.conftest import eventually, fast_worker, finished, running

TENANT = "ten_a"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(home=tmp_path, embedded_model=False)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = open_database(settings)
    yield database
    database.close()


def handler(db: Database, settings: Settings, base: Path) -> FineTuningHandler:
    config = TrainingConfig(checkpoint_every=2, max_tokens=64, threads=1, parity=False)
    return FineTuningHandler(db, settings, config, base_loader=lambda name: base)


async def upload(db: Database, settings: Settings, examples: list[dict[str, Any]]) -> str:
    store = FileStore(db, settings.home, settings.files)
    incoming = store.receive()
    try:
        incoming.write(jsonl(examples))
        return (await store.add(TENANT, "train.jsonl", "fine-tune", incoming)).id
    finally:
        incoming.discard()


async def submit(db: Database, settings: Settings, seed: int = 7, validate: bool = False) -> Job:
    params = {
        "model": "tiny",
        "training_file": await upload(db, settings, EXAMPLES),
        "validation_file": await upload(db, settings, EXAMPLES[:2]) if validate else None,
        "suffix": "caps",
        "seed": seed,
        "hyperparameters": {"n_epochs": 2, "batch_size": 1, "learning_rate_multiplier": 5.0},
    }
    return await JobQueue(db).submit(KIND, TENANT, params, status=VALIDATING, id_prefix=JOB_PREFIX)


def adapter_sha256(job: Job) -> str:
    assert job.result is not None
    return hashlib.sha256(Path(job.result["adapter_gguf"]).read_bytes()).hexdigest()


async def test_a_job_trains_reports_its_losses_and_writes_its_adapter(
    db: Database, settings: Settings, tiny_base: Path
) -> None:
    queue = JobQueue(db)
    job = await submit(db, settings, validate=True)
    async with running(fast_worker(queue, {KIND: handler(db, settings, tiny_base)})):
        done = await finished(queue, job.id)
    assert done.status == "succeeded", done.error
    assert done.result is not None
    suffix = job.id.removeprefix(JOB_PREFIX)
    assert done.result["fine_tuned_model"] == f"ft:tiny:{TENANT}:caps:{suffix}"
    assert done.result["trained_tokens"] > 0
    assert done.progress.done == done.progress.total == 8
    events = await queue.events(job.id)
    losses = [e.data["train_loss"] for e in events if e.data and "train_loss" in e.data]
    assert len(losses) == 8
    assert losses[-1] < losses[0]
    validated = [e.data["step"] for e in events if e.data and "valid_loss" in e.data]
    assert validated == [2, 4, 6, 8]  # at each checkpoint
    work = Path(done.result["adapter_gguf"]).parent
    assert (work / "adapter" / "adapter_model.safetensors").is_file()
    assert (work / "adapter.gguf").stat().st_size > 0
    assert done.result["adapter_sha256"] == adapter_sha256(done)
    lineage = done.result["lineage"]
    assert sorted(lineage["file_sha256"]) == ["training_file", "validation_file"]
    assert (lineage["seed"], lineage["adapter_sha256"]) == (7, adapter_sha256(done))


class Pausing(FineTuningHandler):
    """Holds the job after its first checkpoint, until its worker is stopped."""

    async def _after_step(self, context: JobContext, *args: Any) -> dict[str, Any]:
        state = await super()._after_step(context, *args)
        if state:
            await asyncio.Event().wait()
        return state


async def test_a_job_whose_worker_stopped_resumes_from_its_checkpoint(
    db: Database, settings: Settings, tiny_base: Path
) -> None:
    queue = JobQueue(db)
    config = TrainingConfig(checkpoint_every=2, max_tokens=64, threads=1, parity=False)
    pausing = Pausing(db, settings, config, base_loader=lambda name: tiny_base)
    job = await submit(db, settings)
    async with running(fast_worker(queue, {KIND: pausing})):
        held = await eventually(lambda: queue.get(job.id), lambda j: j.checkpoint is not None, 60)
    assert held.checkpoint is not None and held.checkpoint["step"] == 2
    given_back = await queue.get(job.id)
    assert given_back.status == "queued"

    async with running(fast_worker(queue, {KIND: handler(db, settings, tiny_base)})):
        resumed = await finished(queue, job.id)
    assert resumed.status == "succeeded", resumed.error
    assert resumed.attempts == 2
    messages = [e.message for e in await queue.events(job.id)]
    assert "Resumed from the checkpoint at step 2" in messages

    again = await submit(db, settings)
    async with running(fast_worker(queue, {KIND: handler(db, settings, tiny_base)})):
        uninterrupted = await finished(queue, again.id)
    assert adapter_sha256(resumed) == adapter_sha256(uninterrupted)


async def test_a_cancelled_job_is_billed_what_it_trained_and_publishes_nothing(
    tmp_path: Path, tiny_base: Path
) -> None:
    priced = load_settings(
        home=tmp_path, embedded_model=False, finetuning={"training_price_per_mtok": "2.5"}
    )
    db = open_database(priced)
    queue = JobQueue(db)
    config = TrainingConfig(checkpoint_every=2, max_tokens=64, threads=1, parity=False)
    pausing = Pausing(db, priced, config, base_loader=lambda name: tiny_base)
    try:
        job = await submit(db, priced)
        async with running(fast_worker(queue, {KIND: pausing})):
            held = await eventually(lambda: queue.get(job.id), lambda j: j.checkpoint is not None)
            await queue.request_cancel(job.id)
            done = await finished(queue, job.id)
        with db.read() as session:
            records = list(session.scalars(select(UsageRecord)))
            published = list(session.scalars(select(FineTunedModel)))
    finally:
        db.close()
    assert done.status == "cancelled"
    trained = held.checkpoint["trained_tokens"] if held.checkpoint else 0
    assert [(r.request_id, r.tier, r.outcome, r.prompt_tokens) for r in records] == [
        (job.id, "fine_tuning", "cancelled", trained)
    ]
    assert records[0].cost_micros == cost_micros(trained, 0, (2_500_000, 0)) > 0
    assert published == []


async def test_a_job_asked_to_pseudonymise_says_what_it_replaced_before_training(
    db: Database, settings: Settings, tiny_base: Path
) -> None:
    from tests.finetune.test_pseudonymise import SUPPORT

    queue = JobQueue(db)
    params = {
        "model": "tiny",
        "training_file": await upload(db, settings, SUPPORT),
        "seed": 1,
        "hyperparameters": {"n_epochs": 1, "batch_size": 1, "learning_rate_multiplier": 1.0},
        "pseudonymize_pii": True,
    }
    job = await queue.submit(KIND, TENANT, params, status=VALIDATING, id_prefix=JOB_PREFIX)
    async with running(fast_worker(queue, {KIND: handler(db, settings, tiny_base)})):
        done = await finished(queue, job.id)
    assert done.status == "succeeded", done.error
    said = [e for e in await queue.events(job.id) if e.data and "pii_replaced" in e.data]
    assert len(said) == 1
    assert said[0].message.startswith("Personal data replaced by placeholders before training")
    assert said[0].data is not None and said[0].data["pii_replaced"]["EMAIL"] == 3
