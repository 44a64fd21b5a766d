"""An eval run is quoted before it starts, and its quote is held on the tenant's budget for
the whole run: a tenant whose budget cannot cover the quote is refused (`budget_exceeded`)
when it asks for the run, and never has an item asked; one that can has the quote held while
the run is queued and running, and given back, less what the calls cost, when it ends."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest
from sqlalchemy import func, select

from corral.accounts.admin import KeySpec
from corral.api.app import create_app
from corral.evals.manifest import SigningKey
from corral.evals.runner import KIND, EvalDeps, EvalRunHandler
from corral.evals.store import EvalStore
from corral.files.store import FileStore
from corral.jobs import JobQueue
from corral.services import Services
from corral.storage.tables import BudgetMonth, BudgetReservation, UsageRecord
from tests.evals.test_runner import CRITERIA, ITEMS, Capitals
from tests.jobs.conftest import fast_worker, finished, running
from tests.providers.server import serving
from tests.support import echo_entry, in_process_services

PRICES = (2_000_000_000, 8_000_000_000)  # per million tokens: 2,000 and 8,000 micros a token
SOURCE: Any = {
    "type": "completions",
    "model": "capitals",
    "source": {"type": "file_content", "content": ITEMS},
    "input_messages": {
        "type": "template",
        "template": [{"role": "user", "content": "Capital of {{item.country}}"}],
    },
    "sampling_params": {"temperature": 0, "max_completions_tokens": 16},
}


@dataclass
class Stack:
    services: Services
    backend: Capitals
    url: str

    def sdk(self, tenant: str, budget: int) -> openai.OpenAI:
        admin = self.services.accounts.admin
        admin.create_tenant(tenant, budget_micros=budget)
        key = admin.create_key(tenant, KeySpec())[1]
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0)

    def month(self, tenant: str) -> tuple[int, int]:
        """The tenant's (spent, reserved) this month."""
        tenant_id = self.services.accounts.admin.get_tenant(tenant).id
        with self.services.db.read() as session:
            row = session.scalar(select(BudgetMonth).where(BudgetMonth.tenant_id == tenant_id))
            return (row.spent_micros, row.reserved_micros) if row else (0, 0)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    backend = Capitals()
    entry = echo_entry("capitals", backend=backend, prices=PRICES)
    services = in_process_services(tmp_path, entry)
    with serving(create_app(services)) as url:
        yield Stack(services, backend, url)
    services.db.close()


def new_eval(sdk: openai.OpenAI) -> str:
    made = sdk.evals.create(
        data_source_config={"type": "custom", "item_schema": {}},
        testing_criteria=CRITERIA,  # type: ignore[arg-type]
    )
    return made.id


def test_a_run_that_does_not_fit_the_budget_is_refused_and_one_that_does_is_held(
    stack: Stack,
) -> None:
    roomy = stack.sdk("roomy", 1_000_000_000)
    run = roomy.evals.runs.create(new_eval(roomy), data_source=SOURCE)
    quote = (run.model_extra or {})["corral"]["quote_micros"]
    # Six items, each its prompt and 16 completion tokens at the model's prices.
    assert 6 * 16 * 8_000 < quote < 6 * (16 * 8_000 + 64 * 2_000)
    assert stack.month("roomy") == (0, quote)  # held while the run is queued

    short = stack.sdk("short", quote - 1)  # one micro-unit short of the same run's quote
    with pytest.raises(openai.RateLimitError) as refused:
        short.evals.runs.create(new_eval(short), data_source=SOURCE)
    assert refused.value.status_code == 429
    assert refused.value.code == "budget_exceeded"
    assert "could cost up to" in refused.value.message
    assert stack.month("short") == (0, 0)

    work_off(stack.services.settings.home, stack.backend, run.id)
    spent, _ = stack.month("roomy")
    with stack.services.db.read() as session:
        # Given back when the run ended (the worker's own slice for its calls is its process's,
        # swept as any).
        held = session.scalars(select(BudgetReservation.id)).all()
        assert [r for r in held if r.startswith("resv_evalrun_")] == []
        billed = session.scalar(
            select(func.sum(UsageRecord.cost_micros)).where(
                UsageRecord.request_id.startswith(run.id)
            )
        )
    assert 0 < spent == billed <= quote
    assert sum(stack.backend.calls.values()) == 6  # the refused run asked nothing
    roomy.close()
    short.close()


def work_off(home: Path, backend: Capitals, run_id: str) -> None:
    """What `corral worker` does: run the queued eval with its own services."""
    services = in_process_services(home, echo_entry("capitals", backend=backend, prices=PRICES))
    deps = EvalDeps(
        services.gateway,
        FileStore(services.db, home, services.settings.files),
        EvalStore(services.db),
        SigningKey.load_or_create(home),
        lambda model: {"id": model},
        ledger=services.ledger,
    )

    async def run() -> None:
        queue = JobQueue(services.db)
        async with running(fast_worker(queue, {KIND: EvalRunHandler(lambda: deps)})):
            job = await finished(queue, run_id)
        assert job.status == "succeeded", job.error
        await services.ledger.aclose()

    try:
        asyncio.run(run())
    finally:
        services.db.close()
