"""Last step, settle usage: exact tokens, exact cost, one ledger row, the budget hold released.

A request that produced tokens is billed whatever its end (completed, the client left, the
backend failed mid-way); one that produced none leaves no record and only releases its hold.
An embedding's product is its inputs' vectors: the inputs embedded before an early end count.
A stream's bill is written ahead of its first byte (`write_ahead`, see `metering.pending`), so
that its tokens are billed even if its settlement is never written.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from corral.backends.base import Usage
from corral.metering.ledger import Ledger, Outcome, Release, UsageEntry
from corral.metering.pending import Bill, PendingCharges
from corral.metering.ratelimit import RateLimiter
from corral.metering.reservations import Hold, Reservations
from corral.money import cost_micros
from corral.pipeline.admission import Ticket

logger = logging.getLogger("corral.metering")

CORRECTION_DELAY_S = 0.1
"""A key's token count is corrected to the actual usage this long after a request settles
(until then it counts the request's upper bound: a limit errs on the safe side, briefly)."""


class Settlement:
    def __init__(
        self,
        ledger: Ledger,
        reservations: Reservations,
        limiter: RateLimiter,
        pending: PendingCharges | None = None,
    ) -> None:
        self._ledger = ledger
        self._reservations = reservations
        self._limiter = limiter
        self._pending = pending
        self._corrections: dict[str, tuple[int, int]] = {}  # key id -> (tpm, tokens to add)
        self._correcting: asyncio.Task[None] | None = None

    async def write_ahead(self, ticket: Ticket, usage: Usage) -> bool:
        """Write the bill of a stream about to start; False if there is nowhere to write it."""
        if self._pending is None:
            return False
        bill = Bill(
            ticket.request_id,
            ticket.principal.tenant_id,
            ticket.principal.key_id,
            ticket.model.id,
            ticket.model.tier,
            ticket.prices,
            ticket.started_at,
            ticket.model.cached_price,
        )
        await self._pending.open(
            bill, usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens
        )
        return True

    def progress(self, ticket: Ticket, usage: Usage) -> None:
        """A written-ahead stream's tokens so far (in the background)."""
        if self._pending is not None:
            self._pending.record(
                ticket.request_id, usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens
            )

    async def settle(
        self,
        ticket: Ticket,
        usage: Usage,
        outcome: Outcome,
        prompt_is_output: bool = False,
        written_ahead: bool = False,
        audits: Sequence[dict[str, Any]] = (),
        record: bool = True,
    ) -> None:
        """`prompt_is_output`: the prompt's tokens are the product (embeddings), so those
        processed are billed even if the request ended early. `written_ahead`: the request's
        bill was written ahead (`write_ahead`); settled, it goes in the same transaction.
        `audits`: the audit rows of its partner calls, written in the usage record's
        transaction (alone if it has none). `record`: False for a request already billed under
        its id (`RequestContext.bill`): its hold is released, nothing is recorded."""
        try:
            await self._settle(
                ticket, usage, outcome, prompt_is_output, audits, written_ahead, record
            )
        except BaseException:
            if written_ahead:  # the bill stays, for a sweep to charge: with the final figures
                self.progress(ticket, usage)
            raise

    async def _settle(
        self,
        ticket: Ticket,
        usage: Usage,
        outcome: Outcome,
        prompt_is_output: bool,
        audits: Sequence[dict[str, Any]],
        written_ahead: bool,
        record: bool = True,
    ) -> None:
        produced = usage.prompt_tokens if prompt_is_output else usage.completion_tokens
        entry = None
        if record and (outcome == "completed" or produced > 0):
            entry = UsageEntry(
                request_id=ticket.request_id,
                tenant_id=ticket.principal.tenant_id,
                key_id=ticket.principal.key_id,
                model=ticket.model.id,
                tier=ticket.model.tier,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                prices=ticket.prices,
                cost_micros=cost_micros(
                    usage.prompt_tokens,
                    usage.completion_tokens,
                    ticket.prices,
                    usage.cached_tokens,
                    ticket.model.cached_price,
                ),
                outcome=outcome,
                started_at=ticket.started_at,
                ended_at=dt.datetime.now(dt.UTC),
                cached_tokens=usage.cached_tokens,
                cached_price=ticket.model.cached_price,
            )
        hold, ticket.hold = ticket.hold, None  # released once, whatever happens
        if entry is not None:
            await self._record(entry, hold, audits, written_ahead)
        else:
            if written_ahead and self._pending is not None:
                self._pending.drop(ticket.request_id)
            if hold is not None:
                self._reservations.release(hold, 0)
            if audits:
                await self._ledger.audit(audits)
        key = ticket.principal.key
        if key is not None and key.tpm is not None:
            used = usage.total_tokens if entry is not None else 0
            self._correct_later(key.id, key.tpm, used - ticket.counted_tokens)

    async def _record(
        self,
        entry: UsageEntry,
        hold: Hold | None,
        audits: Sequence[dict[str, Any]],
        written_ahead: bool,
    ) -> None:
        # The cost comes out of the request's reservation, up to what it held (a provider
        # may report more than the bound admission held; the spend is exact either way).
        moved = min(entry.cost_micros, hold.amount) if hold is not None else 0
        release = Release(hold.reservation_id, moved) if hold is not None else None
        recorded = False
        try:
            # Written even if this request is cancelled meanwhile (see `group_commit`).
            await self._ledger.settle(entry, release, audits, written_ahead)
            recorded = True
        except asyncio.CancelledError:
            recorded = True  # the write goes on, and takes the cost out of the reservation
            raise
        finally:
            if hold is not None:
                self._reservations.release(hold, moved if recorded else 0)

    def _correct_later(self, key_id: str, tpm: int, delta: int) -> None:
        """Off the response path, and merged: the corrections made within `CORRECTION_DELAY_S`
        (and while one is being sent) go out together, one call per key, instead of one call
        per request: with Redis, a round trip per request was a large share of a request's CPU
        (bench/results/design_figures.md)."""
        if delta == 0:
            return
        _, pending = self._corrections.get(key_id, (tpm, 0))
        self._corrections[key_id] = (tpm, pending + delta)
        if self._correcting is None or self._correcting.done():
            self._correcting = asyncio.create_task(self._send_corrections())

    async def _send_corrections(self) -> None:
        await asyncio.sleep(CORRECTION_DELAY_S)
        while self._corrections:
            batch, self._corrections = self._corrections, {}
            for key_id, (tpm, delta) in batch.items():
                try:
                    await self._limiter.adjust_tokens(key_id, tpm, delta)
                except Exception:  # the limit self-corrects within a minute; the bill counts
                    logger.warning("could not correct the token rate count", exc_info=True)
