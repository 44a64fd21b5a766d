"""Write-ahead bills: a stream's tokens are billed even if its settlement is never written.

A stream is billed when it ends (`pipeline.settlement`), but its tokens reach the client before
that: if the ledger write then fails, or the process dies mid-stream, they would go unbilled.
So before a stream's first byte its bill is written here (`open`, in the ledger's group
commit), and the tokens it has streamed are recorded about once a second (`record`, off the
response path). The stream's settlement deletes the row in its own transaction
(`Ledger.settle(..., written_ahead=True)`): no write of its own, and never a settled stream
with its bill still standing. A row whose process is gone (its lease expired), or
that has not moved for `stale_s` (its settlement failed), is an orphan: whoever sweeps next
(any process, at start and every half minute) charges it in the ledger for what it last
recorded (`expire`) and deletes it. A bill whose request is in the ledger already (settled;
only the bill's deletion was lost) is deleted, not charged twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import and_, delete, or_, select

from corral.metering.ledger import Ledger, UsageEntry
from corral.money import cost_micros
from corral.storage import Database
from corral.storage.tables import PendingCharge, UsageRecord
from corral.storage.tables import ProcessLease as ProcessLeaseRow

logger = logging.getLogger("corral.metering")

RECORD_EVERY_S = 1.0
"""How often a stream's tokens so far are written: what a crash can leave unbilled."""
_BATCH = 500


@dataclass(frozen=True, slots=True)
class Bill:
    """What a stream will be charged: who, for which model, at which prices, since when."""

    request_id: str
    tenant_id: str | None
    key_id: str
    model: str
    tier: str
    prices: tuple[int, int]
    started_at: dt.datetime
    cached_price: int | None = None
    """Per million prompt tokens served from the prefix cache; None: the input price."""


class PendingCharges:
    def __init__(
        self, db: Database, ledger: Ledger, process_id: str, grace_s: float, stale_s: float
    ) -> None:
        """`process_id`: this process's lease (`leases.ProcessLease`). `grace_s`: how long a
        row of a process without a live lease is left alone (a lease is made just after
        start). `stale_s`: a row of a live process that has not moved for this long is an
        orphan too (its settlement's write failed)."""
        self._db = db
        self._ledger = ledger
        self._process_id = process_id
        self._grace = dt.timedelta(seconds=grace_s)
        self._stale = dt.timedelta(seconds=stale_s)

    async def open(
        self, bill: Bill, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0
    ) -> None:
        """Write the bill; a stream starts only once it is written (raises if it cannot be)."""
        await self._ledger.open_bill(
            {
                "request_id": bill.request_id,
                "tenant_id": bill.tenant_id,
                "key_id": bill.key_id,
                "model": bill.model,
                "tier": bill.tier,
                "input_price_micros": bill.prices[0],
                "output_price_micros": bill.prices[1],
                "cached_price_micros": bill.cached_price,
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "cached_tokens": cached_tokens,
                "process_id": self._process_id,
                "started_at": bill.started_at,
                "updated_at": dt.datetime.now(dt.UTC),
            }
        )

    def record(
        self, request_id: str, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0
    ) -> None:
        """The tokens streamed so far; written in the background (a lost write is redone by
        the next one, or leaves the previous figure)."""
        self._ledger.record_bill(request_id, prompt_tokens, completion_tokens, cached_tokens)

    def drop(self, request_id: str) -> None:
        """A stream that ended with nothing to bill: its bill goes (in the background; if that
        is lost, `expire` charges the nothing it recorded)."""
        self._db.submit(lambda: self._delete(request_id))

    async def expire(self) -> int:
        """Charge the orphaned bills in the ledger and delete them; returns how many."""
        orphans = await self._db.run(self._orphans)
        charged = 0
        for row, settled in orphans:
            if not settled:
                await self._ledger.settle(_entry(row))
                charged += 1
            await self._db.run(self._delete, row.request_id)
        if charged:
            logger.warning("charged %d stream(s) whose settlement was never written", charged)
        return charged

    # -- in the database's threads -------------------------------------------------------------

    def _delete(self, request_id: str) -> None:
        with self._db.write() as session:
            session.execute(delete(PendingCharge).where(PendingCharge.request_id == request_id))

    def _orphans(self) -> list[tuple[PendingCharge, bool]]:
        """The orphaned bills, each with whether its request is in the ledger already."""
        now = dt.datetime.now(dt.UTC)
        process_gone = or_(ProcessLeaseRow.id.is_(None), ProcessLeaseRow.expires_at < now)
        in_ledger = and_(
            UsageRecord.request_id == PendingCharge.request_id,
            UsageRecord.started_at == PendingCharge.started_at,
        )
        query = (
            select(PendingCharge, UsageRecord.id.is_not(None))
            .outerjoin(ProcessLeaseRow, ProcessLeaseRow.id == PendingCharge.process_id)
            .outerjoin(UsageRecord, in_ledger)
            .where(
                or_(
                    and_(process_gone, PendingCharge.updated_at < now - self._grace),
                    PendingCharge.updated_at < now - self._stale,
                )
            )
            .limit(_BATCH)
        )
        with self._db.read() as session:
            return [(row, bool(settled)) for row, settled in session.execute(query)]


def _entry(row: PendingCharge) -> UsageEntry:
    prices = (row.input_price_micros, row.output_price_micros)
    return UsageEntry(
        request_id=row.request_id,
        tenant_id=row.tenant_id,
        key_id=row.key_id,
        model=row.model,
        tier=row.tier,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        prices=prices,
        cost_micros=cost_micros(
            row.prompt_tokens,
            row.completion_tokens,
            prices,
            row.cached_tokens,
            row.cached_price_micros,
        ),
        outcome="failed",
        started_at=row.started_at,
        ended_at=row.updated_at,
        cached_tokens=row.cached_tokens,
        cached_price=row.cached_price_micros,
    )
