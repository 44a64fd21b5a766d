"""The ledger's two hot statements, reserve and settle: what both databases share.

They run on every billed request, so they skip the ORM, and they go through group commits
(`group_commit`): the writes that arrive together share one transaction. Each database's own
SQL and connections are in `ledger_sqlite` and `ledger_postgres`.
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
    "input_price_micros, output_price_micros, cost_micros, outcome, started_at, ended_at"
)
RECORD_VALUES = (
    ":request_id, :tenant_id, :key_id, :model, :tier, :prompt_tokens, :completion_tokens, "
    ":input_price, :output_price, :cost, :outcome, :started_at, :ended_at"
)
DAY_VALUES = (
    ":day_tenant, :day, :model, :tier, :key_id, :input_price, :output_price, 1, "
    ":prompt_tokens, :completion_tokens, :cost"
)
DAY_UPDATE = (
    "requests = d.requests + 1, prompt_tokens = d.prompt_tokens + excluded.prompt_tokens, "
    "completion_tokens = d.completion_tokens + excluded.completion_tokens, "
    "cost_micros = d.cost_micros + excluded.cost_micros"
)
DAY_INSERT = (
    f"INSERT INTO usage_daily AS d ({DAY_KEY}, requests, prompt_tokens, completion_tokens, "
    f"cost_micros) VALUES ({DAY_VALUES}) ON CONFLICT ({DAY_KEY}) DO UPDATE SET {DAY_UPDATE}"
)


class BatchedLedgerSql:
    """`reserve` and `settle` as queued writes: `holds` commits the reservations, `settlements`
    the settlements (the same group commit where one transaction may hold both)."""

    def __init__(self, holds: GroupCommit, settlements: GroupCommit) -> None:
        self._holds = holds
        self._settlements = settlements

    async def reserve(self, params: dict[str, Any]) -> bool:
        def give_back(held: Any) -> None:  # made, but its request is gone: not at expiry, now
            if held:
                self._release_later(params)

        write = Write("reserve", params, orphaned=give_back)
        try:
            return bool(await self._holds.run(write))
        except asyncio.CancelledError:
            outcome = write.outcome
            if outcome.done() and not outcome.cancelled() and outcome.exception() is None:
                give_back(outcome.result())  # committed, then cancelled before it resumed
            raise

    async def settle(self, params: dict[str, Any], release: bool, record: bool) -> None:
        await self._settlements.run(Write("settle", params, release, record))

    async def aclose(self) -> None:
        """Let the queued writes finish (subclasses then close their connections)."""
        await self._holds.idle()  # may give holds back: settlements after it
        await self._settlements.idle()

    def _release_later(self, hold: dict[str, Any]) -> None:
        params = {
            "reservation_id": hold["request_id"],
            "reserved": hold["amount"],
            "tenant_id": hold["tenant_id"],
            "month": hold["month"],
        }
        released = self._settlements.submit(Write("settle", params, release=True))
        released.add_done_callback(_log_failure)


def _log_failure(outcome: asyncio.Future[Any]) -> None:
    if not outcome.cancelled() and outcome.exception() is not None:
        logger.warning(
            "an abandoned budget hold could not be released; it expires instead",
            exc_info=outcome.exception(),
        )


def request_id_reused() -> Conflict:
    """The ledger keys its rows by request id (the `X-Request-ID` a client may send)."""
    return Conflict(
        "The ledger already holds a request with this request id: send a unique X-Request-ID "
        "with each request, or none (corral then makes one).",
        code="request_id_reused",
    )
