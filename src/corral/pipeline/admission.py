"""Step 3, admission: rate limits, then a reservation of the request's maximum possible cost.

The result is a `Charge`: everything settlement needs to bill the request exactly once.
Nothing here runs for the operator's own requests beyond noting when they started.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

from corral.accounts.directory import AccountDirectory
from corral.accounts.records import TenantState
from corral.catalog.catalog import ModelEntry
from corral.errors import BudgetExceeded
from corral.metering.ledger import Ledger, Reservation, month_of
from corral.metering.money import format_micros, max_cost_micros
from corral.metering.ratelimit import RateDecision, RateLimiter, refuse
from corral.pipeline.auth import Principal


@dataclass(slots=True)
class Charge:
    request_id: str
    principal: Principal
    model: ModelEntry
    prices: tuple[int, int]
    started_at: dt.datetime
    reservation: Reservation | None = None
    counted_tokens: int = 0
    """Tokens charged to the key's per-minute limit at admission, corrected at settlement."""
    response_headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ask:
    """What a request may use at most: exact prompt tokens and the completion cap."""

    prompt_tokens: int
    max_completion_tokens: int


class Admission:
    def __init__(
        self,
        ledger: Ledger,
        limiter: RateLimiter,
        directory: AccountDirectory,
        overlap_checks: bool = False,
    ) -> None:
        """`overlap_checks`: run the rate check and the budget hold at the same time, which
        pays when both are network round trips (Redis and PostgreSQL); otherwise one after the
        other, which spares two tasks a request."""
        self._ledger = ledger
        self._limiter = limiter
        self._directory = directory
        self._overlap_checks = overlap_checks

    async def prices(self, model: ModelEntry) -> tuple[int, int]:
        return (await self._directory.price_overrides()).get(model.id, model.prices)

    def needs_ask(self, principal: Principal, tenant: TenantState | None) -> bool:
        """Whether admission needs the prompt's size (a token limit or a budget to check)."""
        key = principal.key
        return (key is not None and key.tpm is not None) or (
            tenant is not None and tenant.budget_micros is not None
        )

    async def admit(
        self,
        request_id: str,
        principal: Principal,
        tenant: TenantState | None,
        model: ModelEntry,
        ask: Ask | None,
        prices: tuple[int, int] | None = None,
    ) -> Charge:
        """`prices` (default: the model's) are what the budget hold is computed at."""
        started = dt.datetime.now(dt.UTC)
        prices = prices if prices is not None else await self.prices(model)
        charge = Charge(request_id, principal, model, prices, started)
        key = principal.key
        if key is None:
            return charge
        hold = None
        if tenant is not None and tenant.budget_micros is not None and ask is not None:
            amount = max_cost_micros(ask.prompt_tokens, ask.max_completion_tokens, charge.prices)
            if amount > 0:
                hold = Reservation(request_id, tenant.id, month_of(started), amount)
        tokens = ask.prompt_tokens + ask.max_completion_tokens if ask else 0
        if self._overlap_checks:  # whichever passed is undone if the other refuses
            decision, held = await self._both_checks_at_once(charge, tokens, hold)
        else:
            decision = await self._check_rate(charge, tokens)
            refused = decision is not None and not decision.allowed
            held = False if refused else await self._hold(hold)
        if decision is not None and not decision.allowed:
            if held and hold is not None:
                await self._ledger.settle(None, hold)
            raise refuse(decision, key.rpm, key.tpm, tokens)
        if hold is not None and not held:
            await self._give_back_tokens(charge)
            raise self._over_budget(charge, hold)
        charge.reservation = hold
        return charge

    async def _both_checks_at_once(
        self, charge: Charge, tokens: int, hold: Reservation | None
    ) -> tuple[RateDecision | None, bool]:
        """The rate check and the budget hold at once; if either fails (Redis or the database
        is down), what the other did is undone before the failure is raised."""
        rate, held = await asyncio.gather(
            self._check_rate(charge, tokens), self._hold(hold), return_exceptions=True
        )
        failures = [outcome for outcome in (rate, held) if isinstance(outcome, BaseException)]
        if failures:
            if held is True and hold is not None:
                await self._ledger.settle(None, hold)
            await self._give_back_tokens(charge)
            raise failures[0]
        assert not isinstance(rate, BaseException) and not isinstance(held, BaseException)
        return rate, held

    async def _check_rate(self, charge: Charge, tokens: int) -> RateDecision | None:
        key = charge.principal.key
        if key is None or (key.rpm is None and key.tpm is None):
            return None
        decision = await self._limiter.admit(key.id, key.rpm, key.tpm, tokens)
        charge.response_headers.update(decision.headers())
        if decision.allowed and key.tpm is not None:
            charge.counted_tokens = tokens
        return decision

    async def _hold(self, hold: Reservation | None) -> bool:
        if hold is None:
            return True
        return await self._ledger.reserve(
            hold.tenant_id, hold.request_id, hold.month, hold.amount_micros
        )

    def _over_budget(self, charge: Charge, hold: Reservation) -> BudgetExceeded:
        return BudgetExceeded(
            f"This request could cost up to {format_micros(hold.amount_micros)} (its prompt plus "
            f"max_tokens at '{charge.model.id}' prices), which does not fit in what is left "
            f"of your monthly budget for {hold.month}. Lower max_tokens, or ask the operator to "
            "raise the budget.",
            headers=charge.response_headers,
        )

    async def _give_back_tokens(self, charge: Charge) -> None:
        key = charge.principal.key
        if key is not None and charge.counted_tokens:
            await self._limiter.adjust_tokens(key.id, key.tpm, -charge.counted_tokens)
            charge.counted_tokens = 0
