"""A stream whose client is gone is stopped and billed for what the model produced."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import select

from corral.backends.base import ChatMessage, GenerationRequest, SamplingParams
from corral.pipeline.auth import ADMIN
from corral.pipeline.gateway import RequestContext
from corral.services import build_services
from corral.settings import load_settings
from corral.storage.tables import UsageRecord
from tests.support import ADMIN_KEY, MODEL


async def test_a_stream_nobody_read_is_stopped_and_billed(tmp_path: Path) -> None:
    services = build_services(load_settings(home=tmp_path), SecretStr(ADMIN_KEY))
    gateway = services.gateway
    ctx = RequestContext("req_unread", ADMIN)
    target = await gateway.resolve(ctx, MODEL)
    backend = target.candidates[0].backend
    await backend.start()
    request = GenerationRequest(
        request_id=ctx.request_id,
        params=SamplingParams(max_tokens=400, temperature=0),
        messages=(ChatMessage("user", "Tell me a very long story about the sea."),),
    )
    try:
        events = await gateway.stream(ctx, target, request)  # held, as a response holds it
        # The model works; nobody reads (the client left at once).
        await wait_for(lambda: request.meter.completion_tokens >= 3)

        for cleanup in ctx.cleanups:  # what the HTTP layer runs when a response ends
            await cleanup()

        with services.db.read() as session:
            record = session.scalars(
                select(UsageRecord).where(UsageRecord.request_id == "req_unread")
            ).one()
        assert record.outcome == "cancelled"
        assert 0 < record.completion_tokens < 400
        assert request.cancelled.is_set()
        del events
    finally:
        await backend.close()
        services.db.close()


async def wait_for(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)
