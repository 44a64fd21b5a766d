"""Admission when a store it needs is down: a clear 503, and nothing left held."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest
import redis.asyncio
from sqlalchemy import func, select

from corral.accounts.admin import KeySpec
from corral.catalog.catalog import PriceList
from corral.errors import StorageUnavailable
from corral.metering import reservations
from corral.metering.ledger import Ledger, ReservationChange
from corral.metering.ratelimit import LocalRateLimiter
from corral.metering.ratelimit_redis import RedisRateLimiter
from corral.metering.reservations import Reservations
from corral.pipeline.admission import Admission, UsageBound
from corral.services import Services
from corral.storage.tables import BudgetMonth, BudgetReservation
from tests.support import echo_entry, in_process_services

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    built = in_process_services(tmp_path, echo_entry("echo", tier="premium", prices=(10**6, 10**6)))
    yield built
    await built.ledger.aclose()
    built.db.close()


async def test_with_redis_down_the_request_is_refused_and_nothing_is_left_held(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = services.accounts.admin.create_tenant("acme", budget_micros=5_000_000)
    _, secret = services.accounts.admin.create_key("acme", KeySpec(name="app", rpm=100))
    principal = await services.authenticator.authenticate("Bearer " + secret)
    tenant_state = await services.directory.tenant(tenant.id)
    client = redis.asyncio.from_url(UNREACHABLE_REDIS, socket_connect_timeout=1)
    prices = PriceList(services.directory.price_overrides)
    admission = Admission(services.reservations, RedisRateLimiter(client), prices)
    try:
        with pytest.raises(StorageUnavailable) as refused:
            echo = services.gateway.catalog.get("echo")
            await admission.admit("req_1", principal, tenant_state, echo, UsageBound(10, 90))
        assert "rate-limit store (Redis)" in (refused.value.detail or "")  # for the operator
    finally:
        await client.aclose()

    # Nothing is left held against the budget: any reservation goes back as soon as it is
    # idle (tidying gives back only reservations with nothing held).
    monkeypatch.setattr(reservations, "IDLE_S", 0.0)
    await services.reservations.tidy()
    with services.db.read() as session:
        held = session.scalar(select(func.count()).select_from(BudgetReservation))
        reserved = session.scalar(select(func.sum(BudgetMonth.reserved_micros)))
    assert held == 0
    assert not reserved


class LedgerDown:
    """A ledger whose database does not answer."""

    async def grow_reservation(self, *args: object, **kwargs: object) -> ReservationChange:
        raise StorageUnavailable("The database is unavailable: connection refused")


async def test_with_the_database_down_the_request_is_refused_and_its_tokens_given_back(
    services: Services,
) -> None:
    tenant = services.accounts.admin.create_tenant("acme", budget_micros=5_000_000)
    _, secret = services.accounts.admin.create_key("acme", KeySpec(name="app", tpm=100))
    principal = await services.authenticator.authenticate("Bearer " + secret)
    tenant_state = await services.directory.tenant(tenant.id)
    limiter = LocalRateLimiter()
    prices = PriceList(services.directory.price_overrides)
    admission = Admission(Reservations(cast(Ledger, LedgerDown())), limiter, prices)

    echo = services.gateway.catalog.get("echo")
    with pytest.raises(StorageUnavailable, match="storage is unavailable; nothing was charged"):
        # 100 tokens: the key's whole minute
        await admission.admit("req_1", principal, tenant_state, echo, UsageBound(10, 90))

    assert principal.key is not None
    again = await limiter.admit(principal.key.id, None, 100, 100)
    assert again.allowed  # the refused request's tokens were given back
