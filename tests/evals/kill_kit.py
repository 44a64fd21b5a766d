"""An eval run on `corral worker` processes killed outright (SIGKILL) mid-run, for the test and
for bench/eval_kill.py: a tenant with a budget runs an eval of N items against a partner model
(the fake OpenAI on loopback, which answers at once: the item's call, its bill and its
checkpoint are most of the time a worker spends, so kills land in all three), and the ledger is
read back per item. The workers and the waiting serve fine-tuning jobs too
(`tests.finetune.kill_job`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
from pydantic import SecretStr
from sqlalchemy import func, select

from corral.accounts.admin import KeySpec
from corral.api.app import create_app
from corral.jobs import Job, JobQueue
from corral.services import build_services
from corral.settings import load_settings
from corral.storage import open_database
from corral.storage.tables import BudgetMonth, BudgetReservation, UsageRecord
from tests.providers.partner_kit import GPT_MINI
from tests.providers.server import serving
from tests.support import ADMIN_KEY, corral_env

PRICES = 'input_price_per_mtok = "1.5"\noutput_price_per_mtok = "6"\n'
WORKER = ["--lease-seconds", "1", "--heartbeat-seconds", "0.2"]
"""Short leases: a killed worker's job is claimed again a second later."""
SAYS = {
    "type": "string_check",
    "name": "says the number",
    "input": "{{sample.output_text}}",
    "reference": "number {{item.n}}",
    "operation": "like",
}


@dataclass(frozen=True, slots=True)
class Setup:
    home: Path
    config: Path
    database_url: str
    tenant_id: str


def configure(
    home: Path, database_url: str, fake_url: str, budget_micros: int | None = 100_000_000
) -> Setup:
    """A config with the partner model only (no embedded model to load), and a tenant with a
    budget (100 currency units; None: no budget, so its runs hold nothing)."""
    config = home / "corral.toml"
    config.write_text("embedded_model = false\n" + GPT_MINI.format(url=fake_url) + PRICES)
    services = services_of(config, home, database_url)
    try:
        tenant = services.accounts.admin.create_tenant("acme", budget_micros=budget_micros)
    finally:
        services.db.close()
    return Setup(home, config, database_url, tenant.id)


def start_run(setup: Setup, items: int) -> str:
    """Create the eval and its run through the API with the tenant's key; the run's id."""
    services = services_of(setup.config, setup.home, setup.database_url)
    _, key = services.accounts.admin.create_key(setup.tenant_id, KeySpec())
    rows = [{"item": {"n": n}} for n in range(items)]
    try:
        with serving(create_app(services)) as corral:
            sdk = openai.OpenAI(base_url=f"{corral}/v1", api_key=key, max_retries=0)
            made = sdk.evals.create(
                data_source_config={"type": "custom", "item_schema": {}},
                testing_criteria=[SAYS],  # type: ignore[list-item]
            )
            source: Any = {
                "type": "completions",
                "model": "gpt-mini",
                "source": {"type": "file_content", "content": rows},
                "input_messages": {
                    "type": "template",
                    "template": [{"role": "user", "content": "Say number {{item.n}}"}],
                },
                "sampling_params": {"max_completions_tokens": 8},
            }
            return sdk.evals.runs.create(made.id, data_source=source).id
    finally:
        services.db.close()


def start_worker(
    setup: Setup, fake_key: str = "", kind: str = "eval_run", **env: str
) -> subprocess.Popen[bytes]:
    """A `corral worker` process on the setup's config and database, running jobs of `kind`."""
    environment = corral_env(
        setup.home,
        CORRAL_CONFIG=str(setup.config),
        CORRAL_DATABASE_URL=setup.database_url,
        FAKE_OPENAI_KEY=fake_key,
        **env,
    )
    return subprocess.Popen(
        [sys.executable, "-m", "corral", "worker", "--kind", kind, *WORKER],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def kill_at(setup: Setup, run_id: str, done: int, fake_key: str) -> tuple[int, dt.datetime]:
    """Start a worker, SIGKILL it once the run has `done` items; the items it had saved (the
    index of the one it was at), and when it was killed."""
    job, killed = await kill_when(
        setup, run_id, lambda j: j.progress.done >= done or j.finished, fake_key
    )
    return job.progress.done, killed


async def kill_when(
    setup: Setup,
    job_id: str,
    when: Callable[[Job], bool],
    fake_key: str = "",
    kind: str = "eval_run",
    within_s: float = 120.0,
) -> tuple[Job, dt.datetime]:
    """Start a worker, SIGKILL it as soon as the job is as `when` wants it; the job as the
    killed worker left it, and when it was killed."""
    worker = start_worker(setup, fake_key, kind)
    try:
        await until(setup, job_id, when, within_s)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    killed = dt.datetime.now(dt.UTC)
    return await until(setup, job_id, lambda j: True), killed


async def finish(
    setup: Setup, run_id: str, fake_key: str = "", kind: str = "eval_run", within_s: float = 120.0
) -> Job:
    """Start a worker, wait for the job to end, stop the worker cleanly."""
    worker = start_worker(setup, fake_key, kind)
    try:
        return await until(setup, run_id, lambda j: j.finished, within_s)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(10)


@dataclass(frozen=True, slots=True)
class Bills:
    per_item: Counter[int]
    """Usage records per item index (each item makes one call)."""
    outcomes: Counter[str]
    cost_micros: int
    spent_micros: int
    """The tenant's month: what it was charged (the sum of its records' costs, if all is well)."""
    ended: dict[int, dt.datetime]
    """When each item's (last) record was written."""
    run_holds: int
    """Runs' budget holds still in the ledger (`evals.billing`): none once the runs ended."""


def bills(setup: Setup, run_id: str) -> Bills:
    settings = load_settings(home=setup.home, database_url=setup.database_url)
    db = open_database(settings)
    try:
        with db.read() as session:
            records = list(
                session.scalars(
                    select(UsageRecord).where(UsageRecord.request_id.startswith(run_id + "-"))
                )
            )
            holds = session.scalars(
                select(BudgetReservation.id).where(BudgetReservation.id.startswith("resv_evalrun_"))
            ).all()
            spent = session.scalar(
                select(func.sum(BudgetMonth.spent_micros)).where(
                    BudgetMonth.tenant_id == setup.tenant_id
                )
            )
    finally:
        db.close()
    per_item = Counter(_index(run_id, r.request_id) for r in records)
    return Bills(
        per_item,
        Counter(r.outcome for r in records),
        sum(r.cost_micros for r in records),
        int(spent or 0),
        {_index(run_id, r.request_id): r.ended_at for r in records},
        len(holds),
    )


def _index(run_id: str, request_id: str) -> int:
    return int(request_id.removeprefix(run_id + "-").split("-")[0])


async def until(
    setup: Setup, run_id: str, done: Callable[[Job], bool], within_s: float = 120.0
) -> Job:
    """Read the job until `done` says so (a failed assertion after `within_s` seconds)."""
    settings = load_settings(home=setup.home, database_url=setup.database_url)
    db = open_database(settings)
    queue = JobQueue(db)
    deadline = time.monotonic() + within_s
    try:
        while True:
            job = await queue.get(run_id)
            if done(job):
                return job
            assert time.monotonic() < deadline, f"still {job.status}: {job.progress}"
            await asyncio.sleep(0.005)
    finally:
        db.close()


def services_of(config: Path, home: Path, database_url: str) -> Any:
    settings = load_settings(config, home=home, database_url=database_url)
    return build_services(settings, SecretStr(ADMIN_KEY))
