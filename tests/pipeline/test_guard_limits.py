"""The privacy guard's budget: a request too large to scan, or a scan that cannot finish in
time, is refused, and the partner receives nothing (the guard fails closed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from corral.backends.base import EmbeddingRequest
from corral.errors import PayloadTooLarge, PrivacyCheckTimeout
from corral.services import Services
from tests.pipeline.test_guard import PROMPT, RecordingPartner, ask, caller
from tests.support import echo_entry, in_process_services


@pytest.fixture
async def guarded(tmp_path: Path) -> AsyncIterator[Any]:
    """Services whose guard has the given `privacy` settings, and the partner behind it."""
    opened: list[Services] = []

    def build(**privacy: Any) -> tuple[Services, RecordingPartner]:
        partner = RecordingPartner()
        entry = echo_entry("partner-x", tier="partner", backend=partner, kind="openai")
        services = in_process_services(tmp_path / str(len(opened)), entry, privacy=privacy)
        opened.append(services)
        return services, partner

    yield build
    for services in opened:
        await services.ledger.aclose()
        services.db.close()


async def test_a_request_beyond_the_scan_size_is_refused_naming_the_messages(
    guarded: Any,
) -> None:
    built, partner = guarded(scan_max_chars=1000)
    ctx = await caller(built, "pseudonymize")
    target = await built.gateway.resolve(ctx, "partner-x")

    with pytest.raises(PayloadTooLarge) as refused:
        await built.gateway.generate(ctx, target, ask(PROMPT * 50))

    assert (refused.value.status_code, refused.value.code) == (413, "privacy_scan_too_large")
    assert refused.value.param == "messages"
    assert partner.received == []


async def test_a_scan_that_cannot_finish_in_time_sends_nothing(guarded: Any) -> None:
    built, partner = guarded(scan_timeout_s=1e-9)
    ctx = await caller(built, "pseudonymize")
    target = await built.gateway.resolve(ctx, "partner-x")

    with pytest.raises(PrivacyCheckTimeout) as refused:
        await built.gateway.generate(ctx, target, ask(PROMPT * 100))

    assert (refused.value.status_code, refused.value.code) == (503, "privacy_check_timeout")
    assert partner.received == []


async def test_embeddings_are_scanned_within_the_same_budget(guarded: Any) -> None:
    built, _ = guarded(scan_max_chars=1000)
    ctx = await caller(built, "pseudonymize")
    target = await built.gateway.resolve(ctx, "partner-x")

    with pytest.raises(PayloadTooLarge) as refused:
        await target.candidates[0].backend.embed(EmbeddingRequest([PROMPT * 50]))

    assert refused.value.param == "input"
