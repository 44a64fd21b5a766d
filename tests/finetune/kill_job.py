"""A fine-tuning job on the embedded model whose `corral worker` is killed outright (SIGKILL)
after a checkpoint, for the test and for bench/finetune_kill.py. The workers are those of the
eval kill test (`tests.evals.kill_kit`: real `corral worker` processes on short leases); the
job is created through the API with the official SDK by a tenant with a budget, at a training
price, and its bill is read back from the ledger."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
from sqlalchemy import func, select

from corral.accounts.admin import KeySpec
from corral.api.app import create_app
from corral.finetune.base import CACHE_DIR
from corral.finetune.billing import LINE
from corral.jobs import Event, Job, JobQueue
from corral.settings import load_settings
from corral.storage import open_database
from corral.storage.tables import BudgetMonth, BudgetReservation, UsageRecord
from tests.evals import kill_kit
from tests.providers.server import serving
from tests.support import MODEL

KIND = "fine_tuning"
PRICE = "2.5"
"""Per million trained tokens."""
PRICE_MICROS = 2_500_000


def configure(home: Path, database_url: str, float_copy: Path) -> kill_kit.Setup:
    """A config serving the embedded model at a training price, the base's float copy (made
    once per test session) linked into the home's cache, and a tenant with a budget."""
    config = home / "corral.toml"
    config.write_text(f'[finetuning]\ntraining_price_per_mtok = "{PRICE}"\n')
    cache = home / CACHE_DIR
    cache.mkdir(parents=True, exist_ok=True)
    (cache / float_copy.name).symlink_to(float_copy)
    services = kill_kit.services_of(config, home, database_url)
    try:
        tenant = services.accounts.admin.create_tenant("acme", budget_micros=100_000_000)
    finally:
        services.db.close()
    return kill_kit.Setup(home, config, database_url, tenant.id)


def create_job(
    setup: kill_kit.Setup, examples: list[dict[str, Any]], epochs: int, seed: int
) -> str:
    """Upload `examples` and create a job on them through the API with the tenant's key."""
    services = kill_kit.services_of(setup.config, setup.home, setup.database_url)
    _, key = services.accounts.admin.create_key(setup.tenant_id, KeySpec())
    data = b"".join(json.dumps(e).encode() + b"\n" for e in examples)
    try:
        with serving(create_app(services)) as corral:
            sdk = openai.OpenAI(base_url=f"{corral}/v1", api_key=key, max_retries=0)
            upload = sdk.files.create(file=("t.jsonl", io.BytesIO(data)), purpose="fine-tune")
            return sdk.fine_tuning.jobs.create(
                model=MODEL,
                training_file=upload.id,
                suffix="kill",
                seed=seed,
                hyperparameters={"n_epochs": epochs, "learning_rate_multiplier": 10},
            ).id
    finally:
        services.db.close()


@dataclass(frozen=True, slots=True)
class Bill:
    records: list[tuple[str, str, int, int]]
    """The job's `fine_tuning` usage records: (outcome, model, trained tokens, cost)."""
    spent_micros: int
    """The tenant's month: all it was charged."""
    holds: int
    """Reservations still in the ledger (none once every job ended)."""


def bill(setup: kill_kit.Setup, job_id: str) -> Bill:
    db = open_database(load_settings(home=setup.home, database_url=setup.database_url))
    try:
        with db.read() as session:
            rows = session.scalars(select(UsageRecord).where(UsageRecord.tier == LINE))
            records = [
                (r.outcome, r.model, r.prompt_tokens, r.cost_micros)
                for r in rows
                if r.request_id.split("#")[0] == job_id
            ]
            spent = session.scalar(
                select(func.sum(BudgetMonth.spent_micros)).where(
                    BudgetMonth.tenant_id == setup.tenant_id
                )
            )
            holds = len(session.scalars(select(BudgetReservation.id)).all())
    finally:
        db.close()
    return Bill(records, int(spent or 0), holds)


async def events(setup: kill_kit.Setup, job_id: str) -> list[Event]:
    db = open_database(load_settings(home=setup.home, database_url=setup.database_url))
    try:
        return await JobQueue(db).events(job_id, limit=10_000)
    finally:
        db.close()


def steps(events: list[Event]) -> list[int]:
    """The steps the job's events report, in order (a step redone after a resume twice)."""
    return [int(e.data["step"]) for e in events if e.data and "train_loss" in e.data]


def checkpointed(job: Job) -> int:
    """The step of the job's last checkpoint (0: none)."""
    return int((job.checkpoint or {}).get("step", 0))


async def finish_both(
    setup: kill_kit.Setup, first: str, second: str, within_s: float
) -> tuple[Job, Job]:
    """One worker runs both jobs to their end (the oldest first), then stops cleanly."""
    worker = kill_kit.start_worker(setup, kind=KIND)
    try:
        done = await kill_kit.until(setup, first, lambda j: j.finished, within_s)
        return done, await kill_kit.until(setup, second, lambda j: j.finished, within_s)
    finally:
        worker.terminate()
        worker.wait(10)
