"""What a fine-tuning job costs, through the one metering path (`corral.metering.ledger`).

Before the first step the job's quote (every example's tokens times the epochs, at
`[finetuning] training_price_per_mtok`) is reserved against its tenant's monthly budget, as a
ledger reservation of the job's own: a job that does not fit fails with `budget_exceeded`
and never trains. The reservation is renewed at each checkpoint (a reservation left alone is
swept as a dead process's), and the job settles once: a usage record keyed by the job id (a
second settlement of the same job is refused by the ledger, so a resumed job is billed once),
tier `fine_tuning`, the trained tokens as its prompt tokens, its cost moved from the
reservation to the month's spend; what is left of the reservation is given back.
"""

from __future__ import annotations

import datetime as dt

from corral.errors import BudgetExceeded, Conflict
from corral.jobs import Job
from corral.metering.ledger import Ledger, Outcome, Release, UsageEntry, month_of
from corral.money import cost_micros, format_micros, max_cost_micros

LINE = "fine_tuning"
"""The invoice line (the usage record's tier) of training."""
KEY_ID = "fine-tuning"
"""The usage record's key: a job is billed to its tenant, not to the key that submitted it."""


class TrainingBill:
    def __init__(self, ledger: Ledger, price_micros: int, currency: str = "USD") -> None:
        self._ledger = ledger
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
        try:
            release = Release(_reservation(job), min(cost, self.quote(quoted)))
            await self._ledger.settle(entry, release)
        except Conflict:  # settled before the worker that did it died: billed already
            pass
        await self.drop(job)

    async def drop(self, job: Job) -> None:
        """Give the job's reservation back, nothing billed."""
        await self._ledger.end_reservation(_reservation(job), job.tenant_id, _month(job))


def _reservation(job: Job) -> str:
    return f"resv_{job.id}"


def _month(job: Job) -> str:
    return month_of(job.started_at or job.created_at)
