"""What a fine-tuning job costs, through the one metering path (`corral.metering.ledger`).

Before the first step the job's quote (every example's tokens times the epochs, at
`[finetuning] training_price_per_mtok`) is reserved against its tenant's monthly budget, as a
ledger reservation of the job's own: a job that does not fit fails with `budget_exceeded`
and never trains. The reservation is renewed at each checkpoint (a reservation left alone is
swept as a dead process's), and the job settles once: a usage record keyed by the job id,
tier `fine_tuning`, the trained tokens as its prompt tokens, its cost moved from the
reservation to the month's spend; what is left of the reservation is given back. A job resumed
after its worker settled and died finds its record (by the job id and the `fine-tuning` key, no
API key's id) and does not settle again. Only the job's current worker settles it: its claim is
exclusive.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select

from corral.errors import BudgetExceeded
from corral.jobs import Job
from corral.metering.ledger import Ledger, Outcome, Release, UsageEntry, month_of
from corral.money import cost_micros, format_micros, max_cost_micros
from corral.storage import Database
from corral.storage.tables import UsageRecord

LINE = "fine_tuning"
"""The invoice line (the usage record's tier) of training."""
KEY_ID = "fine-tuning"
"""The usage record's key: a job is billed to its tenant, not to the key that submitted it."""


class TrainingBill:
    def __init__(
        self, ledger: Ledger, db: Database, price_micros: int, currency: str = "USD"
    ) -> None:
        self._ledger = ledger
        self._db = db
        self.price = price_micros
        self._currency = currency

    def quote(self, tokens: int) -> int:
        """The most `tokens` trained tokens cost (what is held)."""
        return max_cost_micros(tokens, 0, (self.price, 0))

    async def hold(self, job: Job, tokens: int) -> None:
        """Reserve the job's quote, or renew the reservation a resumed job already has."""
        quote = self.quote(tokens)
        reservation, month = _reservation(job), _month(job)
        renewed = await self._ledger.grow_reservation(reservation, job.tenant_id, month, 0, 0)
        if renewed.existed or quote == 0:
            return
        change = await self._ledger.grow_reservation(
            reservation, job.tenant_id, month, quote, quote, create=True
        )
        if change.granted < quote:
            await self._ledger.end_reservation(reservation, job.tenant_id, month)
            raise BudgetExceeded(
                f"Training {tokens} tokens costs up to {format_micros(quote)} "
                f"{self._currency}, more than is left of this month's budget.",
                code="budget_exceeded",
            )

    async def renew(self, job: Job) -> None:
        await self._ledger.grow_reservation(_reservation(job), job.tenant_id, _month(job), 0, 0)

    async def settle(
        self, job: Job, model: str, trained: int, quoted: int, outcome: Outcome
    ) -> None:
        """Bill `trained` tokens once, and give back the rest of the job's reservation."""
        cost = cost_micros(trained, 0, (self.price, 0))
        started = job.started_at or job.created_at
        entry = UsageEntry(
            request_id=job.id,
            tenant_id=job.tenant_id,
            key_id=KEY_ID,
            model=model,
            tier=LINE,
            prompt_tokens=trained,
            completion_tokens=0,
            prices=(self.price, 0),
            cost_micros=cost,
            outcome=outcome,
            started_at=started,
            ended_at=dt.datetime.now(dt.UTC),
        )
        if not await self._db.run(self._billed, job.id):
            release = Release(_reservation(job), min(cost, self.quote(quoted)))
            await self._ledger.settle(entry, release)
        await self.drop(job)

    def _billed(self, job_id: str) -> bool:
        # The ledger records a reused request id under a derived one (`job_id#...`); a
        # client's X-Request-ID equal to the job id is never under the `fine-tuning` key.
        named = or_(
            UsageRecord.request_id == job_id, UsageRecord.request_id.startswith(job_id + "#")
        )
        query = select(UsageRecord.id).where(named, UsageRecord.key_id == KEY_ID).limit(1)
        with self._db.read() as session:
            return session.scalar(query) is not None

    async def drop(self, job: Job) -> None:
        """Give the job's reservation back, nothing billed."""
        await self._ledger.end_reservation(_reservation(job), job.tenant_id, _month(job))


def _reservation(job: Job) -> str:
    return f"resv_{job.id}"


def _month(job: Job) -> str:
    return month_of(job.started_at or job.created_at)
