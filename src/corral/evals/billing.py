"""What an eval run may cost (its quote), and its hold on the tenant's budget for the whole run.

The quote is the sum, over the run's items, of what admission would hold for each of their
calls: the prompt's tokens as the model's backend counts them, plus the completion cap (the
run's `max_completions_tokens`, or a judge's), at the dearest prices of the models that may
answer. It is found by grading each item with calls that only count (`_Meter`): the graders
make the calls they would make, so the quote follows what an item really asks. A judge's
prompt holds the sample, unknown before the run: it is counted empty, plus the sample's cap in
tokens.

A run of a tenant with a budget reserves its quote when it is created, as a ledger reservation
of its own (as a fine-tuning job's, `finetune.billing`): a run that does not fit is refused
with `budget_exceeded`, and runs that are let in cannot run out of budget half-way because of
each other, or of the tenant's other requests. Each call is still admitted and billed by the
gateway like any request; so that the run does not hold an item twice, its reservation is
shrunk before each item to what the items after it may cost, and given back when the run ends.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from corral.backends.base import ChatMessage, GenerationRequest, SamplingParams
from corral.errors import BudgetExceeded, InvalidRequest
from corral.evals.calls import sampling_params
from corral.evals.graders import Grader
from corral.evals.templates import input_messages
from corral.metering.ledger import Ledger, month_of
from corral.money import format_micros, max_cost_micros
from corral.pipeline.auth import Principal
from corral.pipeline.gateway import Gateway, RequestContext


async def quote(
    gateway: Gateway,
    principal: Principal,
    items: Sequence[dict[str, Any]],
    source: dict[str, Any],
    graders: Sequence[Grader],
) -> list[int]:
    """Each item's most possible cost, in micro-units."""
    meter = _Meter(gateway, principal, source)
    return [await _item_cost(meter, item, source, graders) for item in items]


async def _item_cost(
    meter: _Meter, item: dict[str, Any], source: dict[str, Any], graders: Sequence[Grader]
) -> int:
    meter.cost = 0
    scope: dict[str, Any] = {"item": item, "sample": {"output_text": ""}}
    # An item that cannot be graded (too long, a field missing) will end `error`: it costs
    # what was counted before; each grader's calls are counted whatever the one before made
    # of an empty answer.
    if any(g.needs_sample for g in graders):
        with contextlib.suppress(InvalidRequest):
            await meter.sample(input_messages(source.get("input_messages") or {}, scope))
    for grader in graders:
        with contextlib.suppress(InvalidRequest):
            await grader.grade(scope, meter)
    return meter.cost


class _Meter:
    """The `Calls` of a grader that only count what each call may cost."""

    def __init__(self, gateway: Gateway, principal: Principal, source: dict[str, Any]) -> None:
        self._gateway = gateway
        self._principal = principal
        self._model = source["model"]
        self._params = sampling_params(source.get("sampling_params") or {})
        self._targets: dict[str, Any] = {}
        self.cost = 0

    async def sample(self, messages: list[dict[str, str]]) -> None:
        turns = tuple(ChatMessage(m["role"], m["content"]) for m in messages)  # type: ignore[arg-type]
        request = GenerationRequest("quote", self._params, messages=turns)
        self.cost += await self._count(self._model, request)

    async def score_options(self, context: str, options: Sequence[str]) -> list[float]:
        params = SamplingParams(max_tokens=0, temperature=0.0, logprobs=True)
        for option in options:
            request = GenerationRequest("quote", params, prompt=context + option, echo=True)
            self.cost += await self._count(self._model, request)
        return [0.0] * len(options)

    async def judge(self, model: str, messages: Sequence[dict[str, str]], max_tokens: int) -> str:
        turns = tuple(ChatMessage(m["role"], m["content"]) for m in messages)  # type: ignore[arg-type]
        params = SamplingParams(max_tokens=max_tokens, temperature=0.0, seed=0)
        request = GenerationRequest("quote", params, messages=turns)
        self.cost += await self._count(model, request, self._params.max_tokens or 0)
        return ""

    async def _count(self, model: str, request: GenerationRequest, more_prompt: int = 0) -> int:
        """What admission would hold for `request` (`pipeline.gateway._admit`)."""
        candidates, prices = await self._target(model)
        counts = [await e.backend.count_prompt_tokens(request) for e in candidates]
        prompt = max(counts) + more_prompt
        room = max(0, max(e.context_length for e in candidates) - prompt)
        cap = request.params.max_tokens
        completion = min(cap, room) if cap is not None else room
        return max_cost_micros(prompt, completion, prices)

    async def _target(self, model: str) -> tuple[Any, tuple[int, int]]:
        if model not in self._targets:
            ctx = RequestContext(f"quote-{secrets.token_hex(4)}", self._principal)
            target = await self._gateway.resolve(ctx, model)
            prices = [await self._gateway.prices(e) for e in target.candidates]
            dearest = (max(p[0] for p in prices), max(p[1] for p in prices))
            self._targets[model] = (target.candidates, dearest)
        return self._targets[model]  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class RunHold:
    """A run's reservation of its tenant's budget (`Ledger` reservations)."""

    ledger: Ledger
    reservation_id: str
    tenant_id: str
    month: str
    """Of the budget it holds (the month the run was asked for in)."""

    @classmethod
    def new(cls, ledger: Ledger, tenant_id: str) -> RunHold:
        reservation = f"resv_evalrun_{secrets.token_hex(12)}"
        return cls(ledger, reservation, tenant_id, month_of(dt.datetime.now(dt.UTC)))

    async def take(self, amount: int) -> None:
        """Reserve `amount`, or refuse the run (`budget_exceeded`) when it does not fit."""
        change = await self.ledger.grow_reservation(
            self.reservation_id, self.tenant_id, self.month, amount, amount, create=True
        )
        if change.granted < amount:
            await self.drop()
            raise BudgetExceeded(
                f"This eval run could cost up to {format_micros(amount)} (each item's "
                "prompt plus max_completions_tokens, and its judges' calls), more than is left "
                "of your monthly budget. Run fewer items, lower max_completions_tokens, or ask "
                "the operator to raise the budget.",
                code="budget_exceeded",
            )

    async def resize(self, amount: int) -> None:
        """Hold `amount` from now on (what the items not yet asked may cost). Given back and
        taken again: another request may take the room between, and the run then goes on
        with what it gets (each call is still admitted against the budget)."""
        await self.drop()
        if amount > 0:
            await self.ledger.grow_reservation(
                self.reservation_id, self.tenant_id, self.month, 0, amount, create=True
            )

    async def drop(self) -> None:
        await self.ledger.end_reservation(self.reservation_id, self.tenant_id, self.month)

    def to_json(self) -> dict[str, str]:
        return {
            "reservation": self.reservation_id,
            "tenant_id": self.tenant_id,
            "month": self.month,
        }

    @classmethod
    def of(cls, ledger: Ledger, billing: dict[str, Any]) -> RunHold | None:
        """The hold a run's `billing` names; None when it holds nothing."""
        if "reservation" not in billing:
            return None
        return cls(ledger, billing["reservation"], billing["tenant_id"], billing["month"])


def remaining(costs: Sequence[int]) -> list[int]:
    """What the items after each one may cost: `remaining(costs)[i]` = sum of costs[i+1:]."""
    after, total = [], sum(costs)
    for cost in costs:
        total -= cost
        after.append(total)
    return after


@dataclass(frozen=True, slots=True)
class Budgeting:
    """What quoting and holding need: the gateway (counts and prices), the ledger."""

    gateway: Gateway
    ledger: Ledger


async def hold_for_run(
    budgeting: Budgeting,
    principal: Principal,
    items: Sequence[dict[str, Any]],
    source: dict[str, Any],
    graders: Sequence[Grader],
) -> tuple[dict[str, Any], RunHold | None]:
    """The run's quote, and its hold when its tenant has a budget (`budget_exceeded` when the
    quote does not fit): the `billing` of the run's parameters, and the hold to give back if
    the run is not made after all."""
    costs = await quote(budgeting.gateway, principal, items, source, graders)
    billing: dict[str, Any] = {"quote_micros": sum(costs)}
    tenant = await budgeting.gateway.entitlement.tenant(principal)
    if tenant is None or tenant.budget_micros is None or not sum(costs):
        return billing, None
    hold = RunHold.new(budgeting.ledger, tenant.id)
    await hold.take(sum(costs))
    return {**billing, **hold.to_json()}, hold
