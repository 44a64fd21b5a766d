"""The privacy guard between tenants and partner models: what leaves, what comes back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from corral.accounts.admin import KeySpec
from corral.backends.base import (
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    SamplingParams,
    StreamEvent,
    TextDelta,
)
from corral.errors import PermissionDenied, UpstreamError
from corral.pipeline.gateway import RequestContext
from corral.services import Services
from tests.fakes import EchoBackend
from tests.support import echo_entry, in_process_services

SECRET_EMAIL = "anna.schmidt@example.org"
SECRET_IBAN = "DE89370400440532013000"
PROMPT = f"Please write to {SECRET_EMAIL} about IBAN {SECRET_IBAN} today"


class RecordingPartner(EchoBackend):
    """A stand-in for a third party: echoes, and keeps everything it was sent."""

    def __init__(self) -> None:
        self.received: list[str] = []

    def _keep(self, request: GenerationRequest) -> None:
        self.received += [m.content for m in request.messages or ()]

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        self._keep(request)
        return await super().generate(request)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        self._keep(request)
        return await super().stream(request)


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[tuple[Services, RecordingPartner]]:
    partner = RecordingPartner()
    built = in_process_services(
        tmp_path,
        echo_entry("partner-x", tier="partner", backend=partner, kind="openai"),
        echo_entry("local-y"),
        routes=[{"name": "assistant", "models": ["partner-x", "local-y"]}],
    )
    yield built, partner
    await built.ledger.aclose()
    built.db.close()


async def caller(services: Services, policy: str) -> RequestContext:
    services.accounts.admin.create_tenant("acme", policy=policy)
    _, key = services.accounts.admin.create_key("acme", KeySpec())
    return RequestContext("req_1", await services.authenticator.authenticate("Bearer " + key))


def ask(text: str = PROMPT) -> GenerationRequest:
    return GenerationRequest("req_1", SamplingParams(), messages=(ChatMessage("user", text),))


async def test_pseudonymize_keeps_personal_data_from_the_partner_and_restores_it(
    services: tuple[Services, RecordingPartner],
) -> None:
    built, partner = services
    ctx = await caller(built, "pseudonymize")
    target = await built.gateway.resolve(ctx, "partner-x")

    result = await built.gateway.generate(ctx, target, ask())

    sent = " ".join(partner.received)
    assert SECRET_EMAIL not in sent and SECRET_IBAN not in sent
    assert "[EMAIL_1]" in sent
    assert SECRET_EMAIL in result.text and SECRET_IBAN in result.text
    events = built.audit.events(tenant_id=ctx.principal.tenant_id)
    assert [(e.model, e.backend, e.policy) for e in events] == [
        ("partner-x", "openai", "pseudonymize")
    ]
    assert events[0].pii.get("EMAIL") == 1 and events[0].pii.get("IBAN") == 1


async def test_streamed_answers_are_restored_too(
    services: tuple[Services, RecordingPartner],
) -> None:
    built, partner = services
    ctx = await caller(built, "pseudonymize")
    target = await built.gateway.resolve(ctx, "partner-x")

    events = await built.gateway.stream(ctx, target, ask())
    text = "".join([e.text async for e in events if isinstance(e, TextDelta)])

    assert SECRET_EMAIL in text and SECRET_EMAIL not in " ".join(partner.received)


async def test_local_only_never_reaches_a_partner(
    services: tuple[Services, RecordingPartner],
) -> None:
    built, partner = services
    ctx = await caller(built, "local_only")

    with pytest.raises(PermissionDenied) as refused:
        await built.gateway.resolve(ctx, "partner-x")
    target = await built.gateway.resolve(ctx, "assistant")  # the route skips the partner
    result = await built.gateway.generate(ctx, target, ask())

    assert refused.value.code == "data_policy_forbids_partner"
    assert [c.id for c in target.candidates] == ["local-y"]
    assert SECRET_EMAIL in result.text
    assert partner.received == []


async def test_allow_sends_as_is_and_is_audited(
    services: tuple[Services, RecordingPartner],
) -> None:
    built, partner = services
    ctx = await caller(built, "allow")
    target = await built.gateway.resolve(ctx, "partner-x")

    await built.gateway.generate(ctx, target, ask())

    assert SECRET_EMAIL in " ".join(partner.received)
    assert built.audit.events()[0].pii == {}


async def test_pseudonymize_strict_also_masks_bare_numbers(
    services: tuple[Services, RecordingPartner],
) -> None:
    built, partner = services
    text = "Customer number 4482 9137 005 asks about the order."
    for policy in ("pseudonymize", "pseudonymize_strict"):
        await built.accounts.create_tenant(policy, policy=policy)
        _, key = await built.accounts.create_key(policy, KeySpec())
        ctx = RequestContext("req_1", await built.authenticator.authenticate("Bearer " + key))
        target = await built.gateway.resolve(ctx, "partner-x")
        result = await built.gateway.generate(ctx, target, ask(text))
        assert "4482 9137 005" in result.text  # restored, either way

    default, strict = partner.received
    assert "4482 9137 005" in default  # recall first: a bare number is not taken
    assert "4482 9137 005" not in strict and "[NUMBER_1]" in strict
    events = built.audit.events()
    assert [e.policy for e in events] == ["pseudonymize_strict", "pseudonymize"]
    assert events[0].pii == {"NUMBER": 1}


async def test_a_partner_call_that_fails_is_audited_all_the_same(
    services: tuple[Services, RecordingPartner],
) -> None:
    built, partner = services
    ctx = await caller(built, "pseudonymize")
    target = await built.gateway.resolve(ctx, "partner-x")

    async def refuse(request: GenerationRequest) -> GenerationResult:
        partner._keep(request)
        raise UpstreamError("unavailable", backend="partner-x", retryable=False)

    partner.generate = refuse  # type: ignore[method-assign]
    with pytest.raises(UpstreamError):
        await built.gateway.generate(ctx, target, ask())

    assert SECRET_EMAIL not in " ".join(partner.received)  # what left was masked
    events = built.audit.events()
    assert len(events) == 1  # the data left the machine: the call is on record
    assert events[0].pii.get("EMAIL") == 1
