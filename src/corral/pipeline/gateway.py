"""`Gateway`: runs one request through the pipeline steps in order.

resolve (catalog + entitlement) → admit (rate limits, budget hold) → backend →
settle (ledger). Endpoints call `resolve`, then `generate`, `stream` or `embed`, with
protocol-free domain values; the gateway also reports tokens and timings to the metrics.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from corral.accounts.records import TenantState
from corral.backends.base import (
    EmbeddingRequest,
    EmbeddingResult,
    Finished,
    GenerationRequest,
    GenerationResult,
    StreamEvent,
    TextDelta,
    Usage,
)
from corral.catalog import Catalog, ModelEntry
from corral.catalog.catalog import Prices, model_not_found
from corral.catalog.digest import HEADER as DIGEST_HEADER
from corral.errors import CorralError
from corral.metering.ledger import Outcome
from corral.metering.pending import RECORD_EVERY_S
from corral.observability.metrics import Metrics
from corral.pipeline.admission import Admission, Ticket, UsageBound
from corral.pipeline.auth import Principal
from corral.pipeline.entitlement import Entitlement
from corral.pipeline.guard import Caller, PrivacyGuard
from corral.pipeline.settlement import Settlement
from corral.routing.router import Router

# Per input, beyond its UTF-8 bytes: no tokenizer makes more tokens than bytes, plus specials.
_EMBEDDING_SPECIAL_TOKENS = 4


@dataclass(frozen=True, slots=True)
class Target:
    """What a request's `model` names: one model, or a route's models in order of preference."""

    id: str
    candidates: tuple[ModelEntry, ...]


@dataclass(slots=True)
class RequestContext:
    request_id: str
    principal: Principal
    response_headers: dict[str, str] = field(default_factory=dict)
    """Headers every response to this request carries (the rate-limit state)."""
    cleanups: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Run by the HTTP layer once the response has ended, however it ended."""
    bill: bool = True
    """False for a call the ledger has already billed under this request id (an eval item
    asked again after its worker died, `evals.calls`): `generate` does not bill it again."""


class Gateway:
    def __init__(
        self,
        catalog: Catalog,
        metrics: Metrics,
        entitlement: Entitlement,
        admission: Admission,
        settlement: Settlement,
        router: Router,
        guard: PrivacyGuard,
    ) -> None:
        self.catalog = catalog
        self._router = router
        self._guard = guard
        self.entitlement = entitlement
        self._metrics = metrics
        self._admission = admission
        self._settlement = settlement

    async def resolve(self, ctx: RequestContext, model_id: str) -> Target:
        """The models the caller may use under this name (a route skips the refused ones),
        partners behind the privacy guard."""
        await self.catalog.refresh(model_id)
        tenant = await self.entitlement.tenant(ctx.principal)
        caller = _caller(ctx, tenant)
        allowed, refusal = [], None
        for entry in self.catalog.candidates(model_id):
            try:
                self.entitlement.check(ctx.principal, tenant, entry)
                allowed.append(self._guard.protect(entry, caller))
            except CorralError as exc:
                refusal = refusal or exc
        if not allowed:
            assert refusal is not None
            raise refusal
        return Target(model_id, tuple(allowed))

    async def visible_models(self, principal: Principal) -> list[ModelEntry]:
        await self.catalog.refresh()
        tenant = await self.entitlement.tenant(principal)
        return [m for m in self.catalog.entries() if self.entitlement.visible(principal, tenant, m)]

    async def visible_model(self, principal: Principal, model_id: str) -> ModelEntry:
        await self.catalog.refresh(model_id)
        model = self.catalog.get(model_id)
        tenant = await self.entitlement.tenant(principal)
        if not self.entitlement.visible(principal, tenant, model):
            raise model_not_found(model_id)
        return model

    async def prices(self, model: ModelEntry) -> Prices:
        """What the model costs now (`catalog.PriceList`)."""
        return await self._admission.prices.of(model)

    async def generate(
        self, ctx: RequestContext, target: Target, request: GenerationRequest
    ) -> GenerationResult:
        request = _for_party(request, ctx.principal)
        ticket = await self._admit(ctx, target, request)
        bill = ctx.bill
        try:
            entry, result = await self._router.generate(target.candidates, request)
        except BaseException as exc:
            await self._settle(
                ticket, _metered(request), _outcome(exc), audits=request.audit, record=bill
            )
            raise
        await self._answered_by(ctx, ticket, entry)
        await self._settle(ticket, result.usage, "completed", audits=request.audit, record=bill)
        return result

    async def stream(
        self, ctx: RequestContext, target: Target, request: GenerationRequest
    ) -> AsyncIterator[StreamEvent]:
        """Admission happens before this returns; the iterator then only yields events."""
        request = _for_party(request, ctx.principal)
        ticket = await self._admit(ctx, target, request)
        try:
            entry, events = await self._router.stream(target.candidates, request)
        except BaseException as exc:
            await self._settle(ticket, _metered(request), _outcome(exc), audits=request.audit)
            raise
        await self._answered_by(ctx, ticket, entry)
        try:
            # Before the first byte: its tokens are billed even if the settlement never is.
            written_ahead = await self._settlement.write_ahead(ticket, _metered(request))
        except BaseException as exc:
            request.cancelled.set()
            await _close(events)
            await self._settle(ticket, _metered(request), _outcome(exc), audits=request.audit)
            raise
        bill = _StreamBill(self._settle, self._settlement, ticket, request, written_ahead)
        # A stream may end without its iterator ever running (the client left before the first
        # byte); the HTTP layer then still calls this, so the tokens made are billed once.
        ctx.cleanups.append(bill.stop)
        return self._observe_stream(bill, events, time.perf_counter())

    async def embed(
        self, ctx: RequestContext, target: Target, inputs: list[str]
    ) -> EmbeddingResult:
        tokens = sum(len(text.encode()) + _EMBEDDING_SPECIAL_TOKENS for text in inputs)
        tenant = await self.entitlement.tenant(ctx.principal)
        ticket = await self._admit_bound(ctx, target, tenant, UsageBound(tokens, 0))
        request = EmbeddingRequest(inputs, party=party_of(ctx.principal))
        try:
            entry, result = await self._router.embed(target.candidates, request)
        except BaseException as exc:
            # The inputs embedded before a cut (the client left) were work done: billed.
            embedded = Usage(request.meter.prompt_tokens, 0)
            await self._settle(
                ticket, embedded, _outcome(exc), prompt_is_output=True, audits=request.audit
            )
            raise
        await self._answered_by(ctx, ticket, entry)
        used = Usage(result.prompt_tokens, 0)
        await self._settle(ticket, used, "completed", audits=request.audit)
        return result

    async def _answered_by(self, ctx: RequestContext, ticket: Ticket, entry: ModelEntry) -> None:
        """Bill the model that answered, at its prices; tell the client which one it was."""
        ticket.model = entry
        ticket.prices = await self._admission.prices.of(entry)
        ctx.response_headers["x-corral-backend"] = entry.id
        if entry.digest is not None:  # which exact model answered (`catalog.digest`)
            ctx.response_headers[DIGEST_HEADER] = entry.digest

    async def _admit(
        self, ctx: RequestContext, target: Target, request: GenerationRequest
    ) -> Ticket:
        tenant = await self.entitlement.tenant(ctx.principal)
        bound = None
        if self._admission.needs_bound(ctx.principal, tenant):
            counts = [await e.backend.count_prompt_tokens(request) for e in target.candidates]
            prompt = max(counts)
            room = max(0, max(e.context_length for e in target.candidates) - prompt)
            cap = request.params.max_tokens
            bound = UsageBound(prompt, min(cap, room) if cap is not None else room)
        return await self._admit_bound(ctx, target, tenant, bound)

    async def _admit_bound(
        self,
        ctx: RequestContext,
        target: Target,
        tenant: TenantState | None,
        bound: UsageBound | None,
    ) -> Ticket:
        # A route holds budget at its dearest model's prices: any of them may answer.
        dearest = await self._admission.prices.dearest(target.candidates)
        first = target.candidates[0]
        try:
            ticket = await self._admission.admit(
                ctx.request_id, ctx.principal, tenant, first, bound, dearest
            )
        except Exception as exc:
            ctx.response_headers.update(getattr(exc, "headers", {}))
            raise
        ctx.response_headers.update(ticket.response_headers)
        return ticket

    async def _settle(
        self,
        ticket: Ticket,
        usage: Usage,
        outcome: Outcome,
        prompt_is_output: bool = False,
        written_ahead: bool = False,
        audits: list[dict[str, Any]] | None = None,
        record: bool = True,
    ) -> None:
        # Each audit row once: taken off the request as it goes to the ledger.
        rows = list(audits or ())
        if audits:
            audits.clear()
        await self._settlement.settle(
            ticket, usage, outcome, prompt_is_output, written_ahead, rows, record=record
        )
        self._metrics.tokens_used(ticket.model.id, usage.prompt_tokens, usage.completion_tokens)

    async def _observe_stream(
        self, bill: _StreamBill, events: AsyncIterator[StreamEvent], started: float
    ) -> AsyncIterator[StreamEvent]:
        first, model_id = True, bill.ticket.model.id
        try:
            async for event in events:
                if first and isinstance(event, TextDelta) and event.text:
                    self._metrics.time_to_first_token.labels(model_id).observe(
                        time.perf_counter() - started
                    )
                    first = False
                if isinstance(event, Finished):
                    # Billed before the client sees the end of the stream.
                    await bill.finish(event.usage, "completed")
                else:
                    bill.progress()
                yield event
        except BaseException as exc:
            await bill.stop(_outcome(exc))
            raise
        finally:
            await bill.stop()  # the consumer stopped reading: the client left


class _StreamBill:
    """Settles a stream exactly once, whichever of its possible ends comes first; meanwhile,
    keeps its written-ahead bill up to date about once a second."""

    def __init__(
        self,
        settle: Callable[..., Awaitable[None]],
        settlement: Settlement,
        ticket: Ticket,
        request: GenerationRequest,
        written_ahead: bool,
    ) -> None:
        self.ticket = ticket
        self._settle = settle
        self._settlement = settlement
        self._request = request
        self._written_ahead = written_ahead
        self._recorded_at = time.monotonic()
        self._settled = False

    def progress(self) -> None:
        if self._written_ahead and time.monotonic() - self._recorded_at >= RECORD_EVERY_S:
            self._recorded_at = time.monotonic()
            self._settlement.progress(self.ticket, _metered(self._request))

    async def finish(self, usage: Usage, outcome: Outcome) -> None:
        if not self._settled:
            self._settled = True
            await self._settle(
                self.ticket,
                usage,
                outcome,
                written_ahead=self._written_ahead,
                audits=self._request.audit,
            )

    async def stop(self, outcome: Outcome = "cancelled") -> None:
        """An early end: tell the backend to stop, bill what it had produced."""
        if not self._settled:
            self._request.cancelled.set()
            await self.finish(_metered(self._request), outcome)


def _caller(ctx: RequestContext, tenant: TenantState | None) -> Caller:
    # The operator's own requests (admin key) are sent as they are, and audited.
    policy = tenant.policy if tenant is not None else "allow"
    retention = tenant.retention_hours if tenant is not None else None
    principal = ctx.principal
    return Caller(ctx.request_id, principal.tenant_id, principal.key_id, policy, retention)


async def _close(events: AsyncIterator[StreamEvent]) -> None:
    close = getattr(events, "aclose", None)
    if close is not None:
        await close()


def _metered(request: GenerationRequest) -> Usage:
    meter = request.meter
    return Usage(meter.prompt_tokens, meter.completion_tokens, meter.cached_tokens)


def _outcome(exc: BaseException) -> Outcome:
    return "cancelled" if isinstance(exc, asyncio.CancelledError | GeneratorExit) else "failed"


def _for_party(request: GenerationRequest, principal: Principal) -> GenerationRequest:
    # Made with its party already (the chat endpoint does), a request is used as it is: a copy
    # costs every request microseconds.
    party = party_of(principal)
    return request if request.party == party else replace(request, party=party)


def party_of(principal: Principal) -> str:
    """Whose turn a call takes on a shared local model: its tenant's (the admin's key's)."""
    return principal.tenant_id or principal.key_id
