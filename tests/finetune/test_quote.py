"""A fine-tuning job's quote at its creation: the training file counted with the base's
tokenizer times the epochs, at the training price, reserved against the tenant's budget while
the job is queued; a job that does not fit is refused and nothing is queued; a queued job
cancelled gives its quote back; one that runs is billed exactly what it was quoted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from corral.accounts.admin import AccountsAdmin
from corral.accounts.keys import key_hasher
from corral.errors import BudgetExceeded
from corral.files.store import FileStore
from corral.finetune import service
from corral.finetune.handler import FineTuningHandler, TrainingConfig
from corral.finetune.params import KIND
from corral.finetune.quote import Quotes, training_quotes
from corral.jobs import JobQueue
from corral.metering.ledger import Ledger
from corral.money import cost_micros
from corral.settings import Settings, load_settings
from corral.storage import Database, open_database
from corral.storage.tables import BudgetMonth, BudgetReservation
from tests.finetune.conftest import EXAMPLES, jsonl
from tests.jobs.conftest import fast_worker, finished, running

PRICE = "2.5"  # per million trained tokens
MAX_TOKENS = 64


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    gguf = tmp_path / "tiny.gguf"  # only named: the base is the tiny one
    gguf.write_bytes(b"GGUF")
    return load_settings(
        home=tmp_path,
        database_url=database_url,
        embedded_model=False,
        models=[{"name": "tiny", "path": str(gguf)}],
        finetuning={"training_price_per_mtok": PRICE},
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = open_database(settings)
    yield database
    database.close()


@pytest.fixture
async def quotes(db: Database, settings: Settings, tiny_base: Path) -> AsyncIterator[Quotes]:
    from transformers import AutoTokenizer

    ledger = Ledger(db)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_base))
    made = training_quotes(settings, ledger, db, lambda model: tokenizer)
    yield Quotes(made.bill, lambda model: tokenizer, MAX_TOKENS)
    await ledger.aclose()


def tenant(db: Database, settings: Settings, budget_micros: int) -> str:
    admin = AccountsAdmin(db, key_hasher(settings.home, None))
    return admin.create_tenant("acme", budget_micros=budget_micros).id


async def upload(db: Database, settings: Settings, owner: str, examples: list[Any]) -> str:
    store = FileStore(db, settings.home, settings.files)
    incoming = store.receive()
    try:
        incoming.write(jsonl(examples))
        return (await store.add(owner, "train.jsonl", "fine-tune", incoming)).id
    finally:
        incoming.discard()


def booked(db: Database, owner: str) -> tuple[int, int]:
    """(spent, reserved) of the tenant's months, in micro-units."""
    with db.read() as session:
        rows = session.query(BudgetMonth).filter(BudgetMonth.tenant_id == owner).all()
        return sum(r.spent_micros for r in rows), sum(r.reserved_micros for r in rows)


def request(training: str, epochs: int = 2) -> service.Request:
    return service.Request("tiny", training, hyperparameters={"n_epochs": epochs}, seed=3)


async def test_a_job_beyond_the_budget_is_refused_at_creation_and_nothing_is_queued(
    db: Database, settings: Settings, quotes: Quotes
) -> None:
    owner = tenant(db, settings, budget_micros=500)  # 2 epochs of the examples cost more
    files = FileStore(db, settings.home, settings.files)
    training = await upload(db, settings, owner, EXAMPLES)
    queue = JobQueue(db)
    with pytest.raises(BudgetExceeded, match="more than is left") as refused:
        await service.submit(queue, files, settings, owner, request(training), quotes)
    assert refused.value.code == "budget_exceeded"
    assert await queue.list_jobs(owner) == []
    assert booked(db, owner) == (0, 0)


async def test_a_queued_job_holds_its_quote_until_cancelled(
    db: Database, settings: Settings, quotes: Quotes
) -> None:
    owner = tenant(db, settings, budget_micros=10_000)
    files = FileStore(db, settings.home, settings.files)
    training = await upload(db, settings, owner, EXAMPLES)
    queue = JobQueue(db)
    job = await service.submit(queue, files, settings, owner, request(training), quotes)
    quote = job.params["quote"]
    assert quote["tokens"] > 0
    assert quote["micros"] == quotes.bill.quote(quote["tokens"])
    assert booked(db, owner) == (0, quote["micros"])

    cancelled = await service.cancel(queue, owner, job.id, quotes)
    assert cancelled.status == "cancelled"
    assert booked(db, owner) == (0, 0)
    with db.read() as session:
        assert session.query(BudgetReservation).count() == 0


async def test_a_job_that_runs_is_billed_what_it_was_quoted(
    db: Database, settings: Settings, quotes: Quotes, tiny_base: Path
) -> None:
    owner = tenant(db, settings, budget_micros=10_000)
    files = FileStore(db, settings.home, settings.files)
    training = await upload(db, settings, owner, EXAMPLES)
    queue = JobQueue(db)
    job = await service.submit(queue, files, settings, owner, request(training), quotes)
    config = TrainingConfig(checkpoint_every=4, max_tokens=MAX_TOKENS, threads=1, parity=False)
    handler = FineTuningHandler(db, settings, config, base_loader=lambda name: tiny_base)
    async with running(fast_worker(queue, {KIND: handler})):
        done = await finished(queue, job.id)
    assert done.status == "succeeded", done.error
    assert done.result is not None
    assert done.result["trained_tokens"] == job.params["quote"]["tokens"]
    spent = cost_micros(done.result["trained_tokens"], 0, (2_500_000, 0))
    assert booked(db, owner) == (spent, 0)
