"""Last step, settle usage: exact tokens, exact cost, one ledger row, reservation released.

A request that produced tokens is billed whatever its end (completed, the client left, the
backend failed mid-way); one that produced none leaves no record and only releases its hold.
"""

from __future__ import annotations

import datetime as dt
import logging

from corral.backends.base import Usage
from corral.metering.ledger import Ledger, Outcome, UsageEntry
from corral.metering.money import cost_micros
from corral.metering.ratelimit import RateLimiter
from corral.pipeline.admission import Charge
from corral.storage import Database

logger = logging.getLogger("corral.metering")


class Settlement:
    def __init__(self, db: Database, ledger: Ledger, limiter: RateLimiter) -> None:
        self._db = db
        self._ledger = ledger
        self._limiter = limiter

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
            await self._db.run(self._ledger.settle, entry, charge.reservation)
        key = charge.principal.key
        if key is not None and key.tpm is not None:
            used = usage.total_tokens if entry is not None else 0
            try:
                await self._limiter.adjust_tokens(key.id, key.tpm, used - charge.counted_tokens)
            except Exception:  # the limit self-corrects within a minute; the bill is what counts
                logger.warning("could not correct the token rate count", exc_info=True)
