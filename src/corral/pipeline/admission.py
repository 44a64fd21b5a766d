"""Step 3, admission: rate limits, then a hold of the request's maximum possible cost.

The result is a `Charge`: everything settlement needs to bill the request exactly once.
Nothing here runs for the operator's own requests beyond noting when they started.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from corral.accounts.directory import AccountDirectory
from corral.accounts.records import TenantState
from corral.catalog.catalog import ModelEntry
from corral.errors import BudgetExceeded
from corral.metering.leases import BudgetLeases, Hold
from corral.metering.ledger import month_of
from corral.metering.ratelimit import RateDecision, RateLimiter, refuse
from corral.money import format_micros, max_cost_micros
from corral.pipeline.auth import Principal


@dataclass(slots=True)
class Charge:
    request_id: str
    principal: Principal
    model: ModelEntry
    prices: tuple[int, int]
    started_at: dt.datetime
    hold: Hold | None = None
    """Against the tenant's budget (a slice this process leased, see `metering.leases`)."""
    counted_tokens: int = 0
    """Tokens charged to the key's per-minute limit at admission, corrected at settlement."""
    response_headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ask:
    """What a request may use at most: exact prompt tokens and the completion cap."""

    prompt_tokens: int
    max_completion_tokens: int


@dataclass(frozen=True, slots=True)
class _Budget:
    """What to hold for a request: `amount` of `tenant_id`'s `budget` for `month`."""

    tenant_id: str
    month: str
    amount: int
    budget: int


class Admission:
    def __init__(
        self,
        leases: BudgetLeases,
        limiter: RateLimiter,
        directory: AccountDirectory,
    ) -> None:
        self._leases = leases
        self._limiter = limiter
        self._directory = directory

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
        budget = None
        if tenant is not None and tenant.budget_micros is not None and ask is not None:
            amount = max_cost_micros(ask.prompt_tokens, ask.max_completion_tokens, charge.prices)
            if amount > 0:
                budget = _Budget(tenant.id, month_of(started), amount, tenant.budget_micros)
        tokens = ask.prompt_tokens + ask.max_completion_tokens if ask else 0
        # One after the other: a hold is kept in memory (`metering.leases`) and costs a round
        # trip only when its slice runs short, so running both at once saves nothing.
        decision = await self._check_rate(charge, tokens)
        if decision is not None and not decision.allowed:
            raise refuse(decision, key.rpm, key.tpm, tokens)
        try:
            held = await self._hold(budget)
        except BaseException:  # the database is down: the counted tokens are not used
            await self._give_back_tokens(charge)
            raise
        if budget is not None and held is None:
            await self._give_back_tokens(charge)
            raise self._over_budget(charge, budget)
        charge.hold = held
        return charge

    async def _check_rate(self, charge: Charge, tokens: int) -> RateDecision | None:
        key = charge.principal.key
        if key is None or (key.rpm is None and key.tpm is None):
            return None
        decision = await self._limiter.admit(key.id, key.rpm, key.tpm, tokens)
        charge.response_headers.update(decision.headers())
        if decision.allowed and key.tpm is not None:
            charge.counted_tokens = tokens
        return decision

    async def _hold(self, budget: _Budget | None) -> Hold | None:
        if budget is None:
            return None
        return await self._leases.hold(budget.tenant_id, budget.month, budget.amount, budget.budget)

    def _over_budget(self, charge: Charge, budget: _Budget) -> BudgetExceeded:
        return BudgetExceeded(
            f"This request could cost up to {format_micros(budget.amount)} (its prompt plus "
            f"max_tokens at '{charge.model.id}' prices), which does not fit in what is left "
            f"of your monthly budget for {budget.month}. Lower max_tokens, or ask the operator "
            "to raise the budget.",
            headers=charge.response_headers,
        )

    async def _give_back_tokens(self, charge: Charge) -> None:
        key = charge.principal.key
        if key is not None and charge.counted_tokens:
            await self._limiter.adjust_tokens(key.id, key.tpm, -charge.counted_tokens)
            charge.counted_tokens = 0
