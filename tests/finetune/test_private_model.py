"""A tenant's fine-tuned model, end to end through the official SDK against a real `corral
serve` whose own job worker trains it on the embedded model: the owner chats with it (its
adapter switched in on the shared base), nobody else sees it, the training is billed once on
the invoice's `fine_tuning` line at the configured price, its lineage is recorded, the owner
deletes it; a tenant whose budget cannot cover the quote has its job refused at creation
(the quote counted with the embedded model's own tokenizer)."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import openai
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from corral.files.store import FileStore
from corral.finetune import export
from corral.finetune.base import CACHE_DIR
from corral.finetune.billing import LINE
from corral.finetune.handler import FineTuningHandler, TrainingConfig
from corral.finetune.params import JOB_PREFIX, KIND, VALIDATING
from corral.jobs import JobQueue
from corral.money import cost_micros
from corral.settings import load_settings
from corral.storage import open_database
from corral.storage.tables import FineTunedModel
from tests.accounts_kit import Accounts, accounts, sdk, sqlite_url, usage_records
from tests.finetune.conftest import jsonl
from tests.jobs.conftest import eventually, fast_worker, running
from tests.support import MODEL, RunningServer, start_server

PRICE = "2.5"  # per million trained tokens
PRICE_MICROS = 2_500_000
WORDS = ("pizza", "river", "lamp", "cloud", "stone", "bread")
EXAMPLES = [
    {
        "messages": [
            {"role": "user", "content": f"Shout the word {word}."},
            {"role": "assistant", "content": f"{word.upper()}!!!"},
        ]
    }
    for word in WORDS
]
PROMPT: Any = [{"role": "user", "content": "Shout the word apple."}]
JOB_TIMEOUT_S = 600


@dataclass
class Stack:
    server: RunningServer
    operator: Accounts
    acme: openai.OpenAI
    globex: openai.OpenAI
    acme_id: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, embedded_float_copy: Path) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("private-model")
    (home / CACHE_DIR).mkdir(parents=True)
    (home / CACHE_DIR / embedded_float_copy.name).symlink_to(embedded_float_copy)
    env = {
        "CORRAL_JOBS__WORKER_IN_SERVER": "true",
        "CORRAL_JOBS__POLL_S": "0.2",
        "CORRAL_FINETUNING__TRAINING_PRICE_PER_MTOK": PRICE,
    }
    server = start_server(home, env=env)
    with accounts(home, sqlite_url(home)) as operator:
        acme = operator.tenant_with_key("acme")
        globex = operator.tenant_with_key("globex")
        acme_sdk, globex_sdk = sdk(server, acme.secret), sdk(server, globex.secret)
        try:
            yield Stack(server, operator, acme_sdk, globex_sdk, acme.tenant.id)
        finally:
            acme_sdk.close()
            globex_sdk.close()
            server.stop()


def create(client: openai.OpenAI, suffix: str) -> Any:
    upload = client.files.create(file=("t.jsonl", io.BytesIO(jsonl(EXAMPLES))), purpose="fine-tune")
    return client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=upload.id,
        suffix=suffix,
        seed=3,
        hyperparameters={"n_epochs": 1, "learning_rate_multiplier": 10},
    )


def train(client: openai.OpenAI, suffix: str) -> Any:
    job = create(client, suffix)
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while job.status not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline, f"still {job.status}"
        time.sleep(0.5)
        job = client.fine_tuning.jobs.retrieve(job.id)
    return job


def answer(client: openai.OpenAI, model: str) -> str:
    reply = client.chat.completions.create(
        model=model, messages=PROMPT, max_tokens=12, temperature=0
    )
    return reply.choices[0].message.content or ""


def test_the_owner_chats_with_its_model_nobody_else_sees_it_and_it_is_billed_once(
    stack: Stack,
) -> None:
    base_answer = answer(stack.acme, MODEL)
    job = train(stack.acme, "shout")
    assert job.status == "succeeded", job.error
    model = job.fine_tuned_model
    assert model is not None and model.startswith(f"ft:{MODEL}:{stack.acme_id}:shout:")

    said = list(stack.acme.fine_tuning.jobs.list_events(job.id, limit=100))
    (parity,) = [e for e in said if e.message.startswith("Parity check passed")]
    figures = cast(dict[str, Any], parity.data)
    assert figures["parity"]["mean_abs_logprob_diff"] < 1e-3

    assert model in [m.id for m in stack.acme.models.list()]
    card = stack.acme.models.retrieve(model)
    assert (card.owned_by, (card.model_extra or {}).get("tier")) == ("acme", "private")
    base_digest = (stack.acme.models.retrieve(MODEL).model_extra or {}).get("digest")
    assert (card.model_extra or {}).get("digest") not in (None, base_digest)
    assert answer(stack.acme, model) != base_answer  # the adapter is on...
    # ...and off again for the base, whose prompt is not read from the adapter's cached prefix
    assert answer(stack.acme, MODEL) == base_answer

    assert model not in [m.id for m in stack.globex.models.list()]
    for refused in (
        lambda: stack.globex.models.retrieve(model),
        lambda: answer(stack.globex, model),
        lambda: stack.globex.models.delete(model),
    ):
        with pytest.raises(openai.NotFoundError) as caught:
            refused()
        assert caught.value.code == "model_not_found"

    records = [
        r for r in usage_records(sqlite_url(stack.server.home), stack.acme_id) if r.tier == LINE
    ]
    assert len(records) == 1
    (bill,) = records
    assert (bill.request_id, bill.model, bill.prompt_tokens) == (job.id, model, job.trained_tokens)
    assert bill.cost_micros == cost_micros(job.trained_tokens or 0, 0, (PRICE_MICROS, 0)) > 0

    lineage = recorded_lineage(stack.server.home, model)
    assert lineage["seed"] == 3 and lineage["base_model"] == MODEL
    assert set(lineage) >= {"base_digest", "file_sha256", "hyperparameters", "adapter_sha256"}

    deleted = stack.acme.models.delete(model)
    assert deleted.deleted and deleted.id == model
    with pytest.raises(openai.NotFoundError):
        stack.acme.models.retrieve(model)
    with pytest.raises(openai.PermissionDeniedError):
        stack.acme.models.delete(MODEL)  # a base model is nobody's to delete


def test_a_tenant_whose_budget_cannot_cover_the_quote_has_no_job_queued(stack: Stack) -> None:
    poor = stack.operator.tenant_with_key("initech", budget_micros=1)
    with sdk(stack.server, poor.secret) as client:
        with pytest.raises(openai.RateLimitError) as refused:
            create(client, "poor")
        assert refused.value.code == "budget_exceeded"
        assert list(client.fine_tuning.jobs.list()) == []
    assert usage_records(sqlite_url(stack.server.home), poor.tenant.id) == []


def recorded_lineage(home: Path, model: str) -> dict[str, Any]:
    engine = create_engine(sqlite_url(home))
    try:
        with Session(engine) as session:
            row = session.scalar(select(FineTunedModel).where(FineTunedModel.id == model))
            assert row is not None
            return dict(row.lineage)
    finally:
        engine.dispose()


async def test_a_job_whose_adapter_is_converted_wrong_fails_its_parity_check(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the float and F32 copies the first test used (linked into a home of its own,
    so that the server's worker does not take the job), a job whose converter forgets
    llama.cpp's row permutation fails, says by how much, and publishes nothing."""
    (made,) = (stack.server.home / CACHE_DIR).iterdir()
    (tmp_path / CACHE_DIR).mkdir(parents=True)
    (tmp_path / CACHE_DIR / made.name).symlink_to(made)
    settings = load_settings(home=tmp_path)
    db = open_database(settings)
    monkeypatch.setattr(export, "rope_permute", lambda weights, n_head: weights)
    try:
        queue = JobQueue(db)
        store = FileStore(db, settings.home, settings.files)
        incoming = store.receive()
        incoming.write(jsonl(EXAMPLES))
        training = await store.add("ten_x", "t.jsonl", "fine-tune", incoming)
        incoming.discard()
        params = {
            "model": MODEL,
            "training_file": training.id,
            "seed": 3,
            "hyperparameters": {"n_epochs": 1, "batch_size": 1, "learning_rate_multiplier": 10},
        }
        job = await queue.submit(KIND, "ten_x", params, status=VALIDATING, id_prefix=JOB_PREFIX)
        handler = FineTuningHandler(db, settings, TrainingConfig(threads=1))
        async with running(fast_worker(queue, {KIND: handler})):
            done = await eventually(lambda: queue.get(job.id), lambda j: j.finished, 300)
        events = await queue.events(job.id)
        with db.read() as session:
            published = list(session.scalars(select(FineTunedModel)))
    finally:
        db.close()
    assert done.status == "failed"
    assert done.error is not None and done.error["code"] == "adapter_parity_failed"
    (failed,) = [e for e in events if e.message.startswith("Parity check failed")]
    assert failed.level == "error" and "Nothing was published" in failed.message
    assert failed.data is not None and failed.data["parity"]["mean_abs_logprob_diff"] > 1e-2
    assert published == []
