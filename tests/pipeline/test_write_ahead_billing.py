"""A stream's tokens are billed even when its settlement is never written: its bill is written
before the first byte, kept up to date while it streams, and charged by the next sweep when its
process died or its usage write failed. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from corral.accounts.admin import KeySpec
from corral.backends.base import (
    ChatMessage,
    Finished,
    GenerationRequest,
    SamplingParams,
    TextDelta,
)
from corral.errors import StorageUnavailable
from corral.metering.leases import ProcessLease
from corral.metering.pending import Bill, PendingCharges
from corral.pipeline.gateway import RequestContext
from corral.services import Services
from corral.storage.tables import BudgetMonth, PendingCharge, UsageRecord
from tests.support import echo_entry, in_process_services

PRICES = (1_000_000, 2_000_000)  # 1 and 2 currency units per million tokens
STORY = "once upon a time there was a sea"  # the echo model answers with these 8 words


@dataclass
class Served:
    services: Services
    ctx: RequestContext

    def elsewhere(self, **timing: float) -> PendingCharges:
        """Another process's sweep (its own lease), by default one that finds orphans at once."""
        services = self.services
        return PendingCharges(
            services.db,
            services.ledger,
            "proc_elsewhere",
            **{"grace_s": 0, "stale_s": 900, **timing},
        )

    @property
    def pending(self) -> PendingCharges:
        assert self.services.pending is not None
        return self.services.pending

    def bill(self, started_at: dt.datetime) -> Bill:
        principal = self.ctx.principal
        return Bill(
            "req_stream", principal.tenant_id, principal.key_id, "echo", "open", PRICES, started_at
        )

    def request(self) -> GenerationRequest:
        return GenerationRequest(
            self.ctx.request_id, SamplingParams(), messages=(ChatMessage("user", STORY),)
        )

    def rows(self, table: type[PendingCharge] | type[UsageRecord]) -> list[Any]:
        with self.services.db.read() as session:
            return list(session.scalars(select(table)))


@pytest.fixture
async def served(tmp_path: Path, database_url: str) -> AsyncIterator[Served]:
    services = in_process_services(tmp_path, echo_entry(prices=PRICES), database_url=database_url)
    services.accounts.admin.create_tenant("acme", budget_micros=10_000_000)
    _, key = services.accounts.admin.create_key("acme", KeySpec())
    principal = await services.authenticator.authenticate(f"Bearer {key}")
    yield Served(services, RequestContext("req_stream", principal))
    await services.ledger.aclose()
    services.db.close()


async def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_a_stream_whose_process_died_is_charged_for_what_it_had_streamed(
    served: Served,
) -> None:
    pending = served.pending
    await pending.open(served.bill(dt.datetime.now(dt.UTC)), 8, 0)  # before the first byte
    pending.record("req_stream", 8, 5)  # five tokens out; then the process is killed
    await wait_for(lambda: [r.completion_tokens for r in served.rows(PendingCharge)] == [5])

    charged = await served.elsewhere().expire()

    [record] = served.rows(UsageRecord)
    assert charged == 1
    assert (record.prompt_tokens, record.completion_tokens) == (8, 5)
    assert record.cost_micros == 8 * 1 + 5 * 2  # micro-units: prices are per million tokens
    assert record.outcome == "failed"
    assert served.rows(PendingCharge) == []


async def test_a_dead_streams_cached_prompt_tokens_are_charged_at_the_cached_price(
    served: Served,
) -> None:
    bill = dataclasses.replace(served.bill(dt.datetime.now(dt.UTC)), cached_price=250_000)
    await served.pending.open(bill, 4_000, 0, 3_000)
    served.pending.record("req_stream", 4_000, 1_000, 3_000)
    await wait_for(lambda: [r.completion_tokens for r in served.rows(PendingCharge)] == [1_000])

    await served.elsewhere().expire()

    [record] = served.rows(UsageRecord)
    assert (record.cached_tokens, record.cached_price_micros) == (3_000, 250_000)
    # 1_000 read at 1, 3_000 cached at 0.25 and 1_000 written at 2 per million
    assert record.cost_micros == 1_000 + 750 + 2_000


async def test_a_stream_whose_usage_write_failed_is_charged_in_full_later(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway, ledger = served.services.gateway, served.services.ledger
    target = await gateway.resolve(served.ctx, "echo")

    async def full_disk(*_: object, **__: object) -> None:
        raise StorageUnavailable("(sqlite3.OperationalError) database or disk is full")

    with monkeypatch.context() as patched:
        patched.setattr(ledger, "settle", full_disk)
        events = await gateway.stream(served.ctx, target, served.request())
        streamed = []
        with pytest.raises(StorageUnavailable):
            async for event in events:
                streamed.append(event)
    await wait_for(lambda: [r.completion_tokens for r in served.rows(PendingCharge)] == [8])

    nothing_yet = await served.elsewhere(grace_s=900).expire()  # its process lives on...
    charged = await served.elsewhere(grace_s=900, stale_s=0).expire()  # ...but it is stale

    [record] = served.rows(UsageRecord)
    assert len(streamed) == 8 and not any(isinstance(e, Finished) for e in streamed)
    assert (nothing_yet, charged) == (0, 1)
    assert (record.prompt_tokens, record.completion_tokens) == (8, 8)
    with served.services.db.read() as session:
        spent = session.scalar(select(func.sum(BudgetMonth.spent_micros)))
    assert spent == record.cost_micros


async def test_a_settled_stream_leaves_no_bill_and_is_never_charged_twice(
    served: Served,
) -> None:
    gateway = served.services.gateway
    target = await gateway.resolve(served.ctx, "echo")
    events = await gateway.stream(served.ctx, target, served.request())
    during = served.rows(PendingCharge)
    [event async for event in events]
    after = served.rows(PendingCharge)  # deleted in the settlement's own commit: no wait
    # As if the bill's deletion had been lost: the sweep finds the ledger row and only deletes.
    [settled] = served.rows(UsageRecord)
    await served.pending.open(served.bill(settled.started_at), 8, 0)

    charged = await served.elsewhere().expire()

    assert len(during) == 1  # written before the first byte
    assert after == []
    assert charged == 0 and served.rows(PendingCharge) == []
    assert len(served.rows(UsageRecord)) == 1


async def test_a_stream_the_client_leaves_is_billed_for_what_it_made_and_leaves_no_bill(
    served: Served,
) -> None:
    gateway = served.services.gateway
    target = await gateway.resolve(served.ctx, "echo")
    request = served.request()
    events = await gateway.stream(served.ctx, target, request)
    first = await anext(events)
    await _close(events)  # the client left after the first word
    for cleanup in served.ctx.cleanups:
        await cleanup()

    [record] = served.rows(UsageRecord)
    assert first == TextDelta("once ") and record.outcome == "cancelled"
    made = request.meter.completion_tokens  # what the backend had produced when it stopped
    assert made < 8 and record.completion_tokens == made  # billed exactly that, not the story
    assert served.rows(PendingCharge) == []  # gone with the settlement's own commit


async def _close(events: object) -> None:
    close = getattr(events, "aclose", None)
    assert close is not None, "a stream can be closed"
    await close()


async def test_a_live_process_keeps_its_bills(served: Served) -> None:
    services = served.services
    lease = ProcessLease(services.db)
    lease.renew()
    mine = PendingCharges(services.db, services.ledger, lease.id, grace_s=0, stale_s=900)

    await mine.open(served.bill(dt.datetime.now(dt.UTC)), 8, 0)
    charged = await served.elsewhere().expire()

    assert charged == 0 and len(served.rows(PendingCharge)) == 1
