"""Step 3, admission: rate limits, then a hold of the request's maximum possible cost.

The result is a `Ticket`: everything settlement needs to bill the request exactly once.
Nothing here runs for the operator's own requests beyond noting when they started. The words
(bound, hold, reservation, ticket...) are defined in docs/accounts.md ("Words").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from corral.accounts.records import TenantState
from corral.catalog.catalog import ModelEntry, PriceList, Prices
from corral.errors import BudgetExceeded
from corral.metering.ledger import month_of
from corral.metering.ratelimit import RateDecision, RateLimiter, refuse
from corral.metering.reservations import Hold, Reservations
from corral.money import format_micros, max_cost_micros
from corral.pipeline.auth import Principal


@dataclass(slots=True)
class Ticket:
    """An admitted request, from admission to its settlement: who, which model, at which
    prices, and its hold on the tenant's budget."""

    request_id: str
    principal: Principal
    model: ModelEntry
    prices: Prices
    started_at: dt.datetime
    hold: Hold | None = None
    """Against one of this process's reservations of the tenant's budget
    (`metering.reservations`)."""
    counted_tokens: int = 0
    """Tokens charged to the key's per-minute limit at admission, corrected at settlement."""
    response_headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UsageBound:
    """What a request may use at most: exact prompt tokens and the completion cap."""

    prompt_tokens: int
    max_completion_tokens: int


@dataclass(frozen=True, slots=True)
class _PlannedHold:
    """What to hold for a request: `amount` of `tenant_id`'s `budget` for `month`."""

    tenant_id: str
    month: str
    amount: int
    budget: int


class Admission:
    def __init__(
        self,
        reservations: Reservations,
        limiter: RateLimiter,
        prices: PriceList,
    ) -> None:
        self._reservations = reservations
        self._limiter = limiter
        self.prices = prices

    def needs_bound(self, principal: Principal, tenant: TenantState | None) -> bool:
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
        bound: UsageBound | None,
        prices: Prices | None = None,
    ) -> Ticket:
        """`prices` (default: the model's) are what the budget hold is computed at."""
        started = dt.datetime.now(dt.UTC)
        prices = prices if prices is not None else await self.prices.of(model)
        ticket = Ticket(request_id, principal, model, prices, started)
        key = principal.key
        if key is None:
            return ticket
        plan = None
        if tenant is not None and tenant.budget_micros is not None and bound is not None:
            amount = max_cost_micros(
                bound.prompt_tokens, bound.max_completion_tokens, ticket.prices
            )
            if amount > 0:
                plan = _PlannedHold(tenant.id, month_of(started), amount, tenant.budget_micros)
        tokens = bound.prompt_tokens + bound.max_completion_tokens if bound else 0
        # One after the other: a hold is kept in memory (`metering.reservations`) and costs a
        # round trip only when its reservation runs short, so running both at once saves
        # nothing.
        decision = await self._check_rate(ticket, tokens)
        if decision is not None and not decision.allowed:
            raise refuse(decision, key.rpm, key.tpm, tokens)
        try:
            held = await self._hold(plan)
        except BaseException:  # the database is down: the counted tokens are not used
            await self._give_back_tokens(ticket)
            raise
        if plan is not None and held is None:
            await self._give_back_tokens(ticket)
            raise self._over_budget(ticket, plan)
        ticket.hold = held
        return ticket

    async def _check_rate(self, ticket: Ticket, tokens: int) -> RateDecision | None:
        key = ticket.principal.key
        if key is None or (key.rpm is None and key.tpm is None):
            return None
        decision = await self._limiter.admit(key.id, key.rpm, key.tpm, tokens)
        ticket.response_headers.update(decision.headers())
        if decision.allowed and key.tpm is not None:
            ticket.counted_tokens = tokens
        return decision

    async def _hold(self, plan: _PlannedHold | None) -> Hold | None:
        if plan is None:
            return None
        return await self._reservations.hold(plan.tenant_id, plan.month, plan.amount, plan.budget)

    def _over_budget(self, ticket: Ticket, plan: _PlannedHold) -> BudgetExceeded:
        return BudgetExceeded(
            f"This request could cost up to {format_micros(plan.amount)} (its prompt plus "
            f"max_tokens at '{ticket.model.id}' prices), which does not fit in what is left "
            f"of your monthly budget for {plan.month}. Lower max_tokens, or ask the operator "
            "to raise the budget.",
            headers=ticket.response_headers,
        )

    async def _give_back_tokens(self, ticket: Ticket) -> None:
        key = ticket.principal.key
        if key is not None and ticket.counted_tokens:
            await self._limiter.adjust_tokens(key.id, key.tpm, -ticket.counted_tokens)
            ticket.counted_tokens = 0
