"""Last step, settle usage: exact tokens, exact cost, one ledger row, reservation released.

A request that produced tokens is billed whatever its end (completed, the client left, the
backend failed mid-way); one that produced none leaves no record and only releases its hold.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Coroutine
from typing import Any

from corral.backends.base import Usage
from corral.metering.ledger import Ledger, Outcome, UsageEntry
from corral.metering.money import cost_micros
from corral.metering.ratelimit import RateLimiter
from corral.pipeline.admission import Charge

logger = logging.getLogger("corral.metering")


class Settlement:
    def __init__(self, ledger: Ledger, limiter: RateLimiter) -> None:
        self._ledger = ledger
        self._limiter = limiter
        self._corrections: set[asyncio.Task[None]] = set()

    async def settle(self, charge: Charge, usage: Usage, outcome: Outcome) -> None:
        entry = None
        if outcome == "completed" or usage.completion_tokens > 0:
            entry = UsageEntry(
                request_id=charge.request_id,
                tenant_id=charge.principal.tenant_id,
                key_id=charge.principal.key_id,
                model=charge.model.id,
                tier=charge.model.tier,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                prices=charge.prices,
                cost_micros=cost_micros(
                    usage.prompt_tokens, usage.completion_tokens, charge.prices
                ),
                outcome=outcome,
                started_at=charge.started_at,
                ended_at=dt.datetime.now(dt.UTC),
            )
        if entry is not None or charge.reservation is not None:
            await _shielded(self._ledger.settle(entry, charge.reservation))
        key = charge.principal.key
        if key is not None and key.tpm is not None:
            used = usage.total_tokens if entry is not None else 0
            # Off the response path: nobody waits for a rate-limit correction.
            task = asyncio.create_task(self._correct(key.id, key.tpm, used - charge.counted_tokens))
            self._corrections.add(task)
            task.add_done_callback(self._corrections.discard)

    async def _correct(self, key_id: str, tpm: int, delta: int) -> None:
        try:
            await self._limiter.adjust_tokens(key_id, tpm, delta)
        except Exception:  # the limit self-corrects within a minute; the bill is what counts
            logger.warning("could not correct the token rate count", exc_info=True)


async def _shielded(work: Coroutine[Any, Any, None]) -> None:
    """Finish writing the usage record even if the request's task is cancelled meanwhile."""
    await asyncio.shield(asyncio.ensure_future(work))
