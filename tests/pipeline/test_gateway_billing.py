"""Billing through the gateway: every request that produced tokens leaves one exact ledger row."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from corral.accounts.admin import KeySpec
from corral.backends.base import (
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    SamplingParams,
    StreamEvent,
    TextDelta,
    Usage,
)
from corral.errors import BudgetExceeded, RateLimited
from corral.metering.ledger import month_of
from corral.pipeline.auth import Principal
from corral.pipeline.gateway import RequestContext
from corral.services import Services
from corral.storage.tables import BudgetMonth, UsageRecord
from tests.fakes import EchoBackend
from tests.support import ADMIN_KEY, echo_entry, in_process_services

PRICES = (1_234_567, 7_654_321)  # micro-units per million prompt / completion tokens


class RecordingBackend(EchoBackend):
    """The echo backend, noting each request it was asked to run."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        self.ran.append(request.request_id)
        return await super().generate(request)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        self.ran.append(request.request_id)
        return await super().stream(request)


@pytest.fixture
def backend() -> RecordingBackend:
    return RecordingBackend()


@pytest.fixture
async def services(
    database_url: str, tmp_path: Path, backend: RecordingBackend
) -> AsyncIterator[Services]:
    model = echo_entry("echo-premium", tier="premium", prices=PRICES, backend=backend)
    built = in_process_services(tmp_path, model, database_url=database_url)
    yield built
    await built.ledger.aclose()
    built.db.close()


async def tenant_caller(
    services: Services, *, budget_micros: int | None = None, rpm: int | None = None
) -> Principal:
    """A tenant 'acme' with one API key, authenticated as an HTTP request would be."""
    services.accounts.admin.create_tenant("acme", budget_micros=budget_micros)
    _, key = services.accounts.admin.create_key("acme", KeySpec(name="app", rpm=rpm))
    return await services.authenticator.authenticate("Bearer " + key)


def chat(request_id: str, text: str, max_tokens: int | None = None) -> GenerationRequest:
    return GenerationRequest(
        request_id=request_id,
        params=SamplingParams(max_tokens=max_tokens),
        messages=(ChatMessage("user", text),),
    )


def ledger_rows(services: Services) -> list[UsageRecord]:
    with services.db.read() as session:
        return list(session.scalars(select(UsageRecord)))


def budget_month(services: Services, tenant_id: str | None) -> tuple[int, int]:
    """(spent, reserved) of the tenant's current month."""
    with services.db.read() as session:
        row = session.get(BudgetMonth, (tenant_id, month_of(dt.datetime.now(dt.UTC))))
    return (0, 0) if row is None else (row.spent_micros, row.reserved_micros)


async def test_a_completed_request_is_billed_once_and_exactly(services: Services) -> None:
    principal = await tenant_caller(services, budget_micros=1_000_000)
    ctx = RequestContext("req_1", principal)
    model = await services.gateway.resolve(ctx, "echo-premium")

    result = await services.gateway.generate(ctx, model, chat("req_1", "one two three four five"))

    [row] = ledger_rows(services)
    assert result.usage == Usage(prompt_tokens=5, completion_tokens=5)
    assert (row.prompt_tokens, row.completion_tokens) == (5, 5)
    # 5 x 1.234567 + 5 x 7.654321 per million = 44.44444 micro-units
    assert row.cost_micros == 44
    assert (row.input_price_micros, row.output_price_micros) == PRICES
    assert (row.tenant_id, row.key_id, row.model, row.tier) == (
        principal.tenant_id,
        principal.key_id,
        "echo-premium",
        "premium",
    )
    assert (row.request_id, row.outcome) == ("req_1", "completed")
    await services.reservations.give_back_all()  # as an idle process does
    assert budget_month(services, principal.tenant_id) == (44, 0)  # the hold went back


async def test_an_abandoned_stream_is_billed_for_what_it_produced(services: Services) -> None:
    principal = await tenant_caller(services, budget_micros=1_000_000)
    ctx = RequestContext("req_1", principal)
    model = await services.gateway.resolve(ctx, "echo-premium")
    events = await services.gateway.stream(ctx, model, chat("req_1", "one two three four five six"))

    received = []
    async for event in events:
        received.append(event)
        if len(received) == 2:
            break  # the client went away
    assert isinstance(events, AsyncGenerator)
    await events.aclose()

    assert received == [TextDelta("one "), TextDelta("two ")]
    [row] = ledger_rows(services)
    assert (row.prompt_tokens, row.completion_tokens, row.outcome) == (6, 2, "cancelled")
    # 6 x 1.234567 + 2 x 7.654321 per million = 22.716044 micro-units
    assert row.cost_micros == 23
    await services.reservations.give_back_all()  # as an idle process does
    assert budget_month(services, principal.tenant_id) == (23, 0)


async def test_a_request_the_budget_cannot_cover_never_runs(
    services: Services, backend: RecordingBackend
) -> None:
    principal = await tenant_caller(services, budget_micros=44)
    ctx = RequestContext("req_1", principal)
    model = await services.gateway.resolve(ctx, "echo-premium")

    # 5 prompt tokens and up to 10 completion tokens could cost 5 x 1.234567 + 10 x 7.654321
    # per million = 82.7 micro-units: more than the 44 budgeted
    with pytest.raises(BudgetExceeded) as refused:
        await services.gateway.generate(ctx, model, chat("req_1", "one two three four five", 10))

    assert (refused.value.status_code, refused.value.code) == (429, "budget_exceeded")
    assert "does not fit in what is left of your monthly budget" in refused.value.message
    assert backend.ran == []
    assert ledger_rows(services) == []
    assert budget_month(services, principal.tenant_id) == (0, 0)


async def test_a_key_over_its_request_rate_is_refused_with_openais_headers(
    services: Services, backend: RecordingBackend
) -> None:
    principal = await tenant_caller(services, rpm=2)
    model = await services.gateway.resolve(RequestContext("req_0", principal), "echo-premium")
    for n in (1, 2):
        await services.gateway.generate(
            RequestContext(f"req_{n}", principal), model, chat(f"req_{n}", "hi")
        )
    ctx = RequestContext("req_3", principal)

    with pytest.raises(RateLimited) as refused:
        await services.gateway.generate(ctx, model, chat("req_3", "hi"))

    assert refused.value.code == "rate_limit_exceeded"
    assert ctx.response_headers["x-ratelimit-limit-requests"] == "2"
    assert ctx.response_headers["x-ratelimit-remaining-requests"] == "0"
    # both requests' slots come free within the minute: '1m0s' less the few ms the test took
    assert re.fullmatch(r"1m0s|59(\.\d+)?s", ctx.response_headers["x-ratelimit-reset-requests"])
    assert refused.value.headers["Retry-After"] == "30"  # one request every 30 s
    assert backend.ran == ["req_1", "req_2"]
    assert len(ledger_rows(services)) == 2


async def test_the_operators_requests_are_recorded_without_a_tenant(services: Services) -> None:
    operator = await services.authenticator.authenticate("Bearer " + ADMIN_KEY)
    ctx = RequestContext("req_1", operator)
    model = await services.gateway.resolve(ctx, "echo-premium")

    await services.gateway.generate(ctx, model, chat("req_1", "one two"))

    [row] = ledger_rows(services)
    assert (row.tenant_id, row.key_id, row.completion_tokens) == (None, "admin", 2)
    [daily] = services.usage.daily(row.started_at.date(), row.started_at.date())
    assert (daily.tenant, daily.requests, daily.cost_micros) == (None, 1, row.cost_micros)
