"""Admission when a store it needs is down: a clear 503, and nothing left held."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio
from sqlalchemy import func, select

from corral.accounts.admin import KeySpec
from corral.api.deps import Services
from corral.errors import StorageUnavailable
from corral.metering import leases
from corral.metering.ratelimit_redis import RedisRateLimiter
from corral.pipeline.admission import Admission, Ask
from corral.storage.tables import BudgetMonth, BudgetReservation
from tests.support import echo_entry, in_process_services

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    built = in_process_services(tmp_path, echo_entry("echo", tier="premium", prices=(10**6, 10**6)))
    yield built
    await built.ledger.aclose()
    built.db.close()


async def test_with_redis_down_the_request_is_refused_and_its_budget_hold_given_back(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = services.accounts.create_tenant("acme", budget_micros=5_000_000)
    _, secret = services.accounts.create_key("acme", KeySpec(name="app", rpm=100))
    principal = await services.authenticator.authenticate("Bearer " + secret)
    tenant_state = await services.directory.tenant(tenant.id)
    client = redis.asyncio.from_url(UNREACHABLE_REDIS, socket_connect_timeout=1)
    # Both checks at once, as with PostgreSQL and Redis: the hold succeeds, the rate check fails.
    admission = Admission(
        services.leases, RedisRateLimiter(client), services.directory, overlap_checks=True
    )
    try:
        with pytest.raises(StorageUnavailable, match="rate-limit store \\(Redis\\)"):
            await admission.admit(
                "req_1", principal, tenant_state, services.gateway.catalog.get("echo"), Ask(10, 90)
            )
    finally:
        await client.aclose()

    # Nothing is left held in the budget slice the hold took, so it goes back as soon as it
    # is idle (tidying gives back only slices with nothing held).
    monkeypatch.setattr(leases, "IDLE_S", 0.0)
    await services.leases.tidy()
    with services.db.read() as session:
        held = session.scalar(select(func.count()).select_from(BudgetReservation))
        reserved = session.scalar(select(func.sum(BudgetMonth.reserved_micros)))
    assert held == 0
    assert not reserved
