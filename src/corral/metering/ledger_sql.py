"""The ledger's hot writes, settlements and budget reservations: what both databases share.

A settlement runs on every billed request, a reservation change on one in many
(`reservations`), so they
skip the ORM, and they go through group commits (`group_commit`): the writes that arrive
together share one transaction. Each database's own SQL and connections are in
`ledger_sqlite` and `ledger_postgres`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from corral.errors import Conflict
from corral.metering.group_commit import GroupCommit, Write

logger = logging.getLogger("corral.metering")

# (tenant, day, model, tier, key, input price, output price) identifies a rollup row.
DAY_KEY = "tenant_id, day, model, tier, key_id, input_price_micros, output_price_micros"
RECORD_COLUMNS = (
    "request_id, tenant_id, key_id, model, tier, prompt_tokens, completion_tokens, "
    "input_price_micros, output_price_micros, cached_tokens, cached_price_micros, cost_micros, "
    "outcome, started_at, ended_at"
)
RECORD_VALUES = (
    ":request_id, :tenant_id, :key_id, :model, :tier, :prompt_tokens, :completion_tokens, "
    ":input_price, :output_price, :cached_tokens, :cached_price, :cost, :outcome, :started_at, "
    ":ended_at"
)
PENDING_COLUMNS = (
    "request_id, tenant_id, key_id, model, tier, input_price_micros, output_price_micros, "
    "cached_price_micros, prompt_tokens, completion_tokens, cached_tokens, process_id, "
    "started_at, updated_at"
)
PENDING_VALUES = (
    ":request_id, :tenant_id, :key_id, :model, :tier, :input_price_micros, "
    ":output_price_micros, :cached_price_micros, :prompt_tokens, :completion_tokens, "
    ":cached_tokens, :process_id, :started_at, :updated_at"
)
RECORD_BILL = (
    "UPDATE pending_charges SET prompt_tokens = :prompt_tokens, completion_tokens = "
    ":completion_tokens, cached_tokens = :cached_tokens, updated_at = :updated_at "
    "WHERE request_id = :request_id"
)
# A rollup row plus a batch's sums for it (the update of an upsert into `usage_daily AS d`).
DAY_ADD = (
    "requests = d.requests + excluded.requests, "
    "prompt_tokens = d.prompt_tokens + excluded.prompt_tokens, "
    "completion_tokens = d.completion_tokens + excluded.completion_tokens, "
    "cost_micros = d.cost_micros + excluded.cost_micros"
)


class BatchedLedgerSql:
    """The ledger's writes, queued: `durable` commits settlements and reservation grants, which
    must survive a crash of the database once answered; `volatile` commits reservations given
    back,
    which at worst stay reserved until they expire (the same group commit where both are)."""

    def __init__(self, durable: GroupCommit, volatile: GroupCommit) -> None:
        self._durable = durable
        self._volatile = volatile

    async def grow_reservation(self, params: dict[str, Any]) -> tuple[int, bool]:
        """(granted, whether the reservation existed); see `Ledger.grow_reservation`."""
        granted, existed = await self._durable.run(Write("grow_reservation", params))
        return int(granted), bool(existed)

    async def end_reservation(self, params: dict[str, Any]) -> None:
        await self._volatile.run(Write("end_reservation", params))

    async def settle(self, params: dict[str, Any]) -> None:
        await self._durable.run(Write("settle", params))

    async def open_bill(self, params: dict[str, Any]) -> None:
        """A stream's write-ahead bill (a `pending_charges` row), committed before it starts."""
        await self._durable.run(Write("open_bill", params))

    def record_bill(self, params: dict[str, Any]) -> None:
        """A stream's tokens so far on its bill, not waited for: a lost one is redone by the
        next, or leaves the previous figure."""
        self._volatile.submit(Write("record_bill", params)).add_done_callback(_seen)

    async def audit(self, rows: list[dict[str, Any]]) -> None:
        """Audit rows with no settlement to go with (`privacy.audit_sql`)."""
        await self._durable.run(Write("audit", {"audits": rows}))

    async def aclose(self) -> None:
        """Let the queued writes finish (subclasses then close their connections)."""
        await self._durable.idle()
        await self._volatile.idle()


def _seen(outcome: asyncio.Future[Any]) -> None:
    if not outcome.cancelled() and outcome.exception() is not None:
        logger.debug("a stream's progress was not recorded", exc_info=outcome.exception())


def request_id_reused() -> Conflict:
    """The ledger keys its rows by request id (the `X-Request-ID` a client may send)."""
    return Conflict(
        "The ledger already holds a request with this request id: send a unique X-Request-ID "
        "with each request, or none (corral then makes one).",
        code="request_id_reused",
    )
