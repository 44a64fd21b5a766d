"""What a fine-tuning job costs, through the one metering path (`corral.metering.ledger`).

When the job is created its quote (every example's tokens times the epochs, at
`[finetuning] training_price_per_mtok`) is reserved against its tenant's monthly budget, as a
ledger reservation of the job's own: a job that does not fit is refused with `budget_exceeded`
and never queued. When it starts, the reservation is made the exact quote (the examples
tokenised as trained); one that no longer fits fails the job before any step. The reservation
is renewed at each checkpoint (a reservation left alone is swept as a dead process's), and the
job settles once: a usage record keyed by the job id,
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
from corral.storage.tables import BudgetReservation, UsageRecord

LINE = "fine_tuning"
"""The invoice line (the usage record's tier) of training."""
QUEUED_HOLD_S = 7 * 24 * 3600
"""How long a queued job's quote stays reserved: one still queued after that is checked
against the budget again when it starts."""
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

    async def hold_quote(
        self, job_id: str, tenant_id: str, created: dt.datetime, tokens: int
    ) -> int:
        """At the job's creation, before it is queued: reserve its quote until it starts (a
        queued job's reservation lasts `QUEUED_HOLD_S`). Returns the quote; `BudgetExceeded`,
        and nothing reserved, if it does not fit."""
        quote = self.quote(tokens)
        if quote == 0:
            return 0
        reservation, month = reservation_id(job_id), self.month(created)
        change = await self._ledger.grow_reservation(
            reservation, tenant_id, month, quote, quote, create=True, expires_in_s=QUEUED_HOLD_S
        )
        if change.granted < quote:
            await self._ledger.end_reservation(reservation, tenant_id, month)
            raise self._refusal(tokens, quote)
        return quote

    async def hold(self, job: Job, tokens: int) -> None:
        """When the job starts: make its reservation the exact quote of `tokens` (the one made
        at its creation is topped up if it falls short), or renew a resumed job's."""
        quote = self.quote(tokens)
        reservation, month = _reservation(job), _month(job)
        renewed = await self._ledger.grow_reservation(reservation, job.tenant_id, month, 0, 0)
        held = await self._db.run(self._reserved, reservation) if renewed.existed else 0
        if quote <= held:
            return
        change = await self._ledger.grow_reservation(
            reservation, job.tenant_id, month, quote - held, quote - held, create=True
        )
        if change.granted < quote - held:
            await self._ledger.end_reservation(reservation, job.tenant_id, month)
            raise self._refusal(tokens, quote)

    @staticmethod
    def month(created: dt.datetime) -> str:
        return month_of(created)

    async def release(self, job_id: str, tenant_id: str, month: str) -> None:
        """Give back the quote of a job that never ran (not queued after all, or cancelled
        while queued)."""
        await self._ledger.end_reservation(reservation_id(job_id), tenant_id, month)

    def _refusal(self, tokens: int, quote: int) -> BudgetExceeded:
        return BudgetExceeded(
            f"Training {tokens} tokens costs up to {format_micros(quote)} "
            f"{self._currency}, more than is left of this month's budget.",
            code="budget_exceeded",
        )

    def _reserved(self, reservation: str) -> int:
        with self._db.read() as session:
            row = session.get(BudgetReservation, reservation)
            return 0 if row is None else int(row.amount_micros)

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


def reservation_id(job_id: str) -> str:
    return f"resv_{job_id}"


def _reservation(job: Job) -> str:
    return reservation_id(job.id)


def _month(job: Job) -> str:
    # The month its quote was reserved in (its creation's): a reservation is given back to
    # its own month's budget.
    quote = job.params.get("quote") or {}
    return str(quote.get("month") or month_of(job.created_at))
