"""The chat's "what left this machine": for an answer a partner model gave, what the partner
received (the privacy guard's pseudonymised text, no personal values) when the tenant's
retention keeps audit bodies, and always how many values of each kind were masked. Read from
the privacy audit log by the turn's request id, for the conversation's tenant only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from corral.services import Services


@dataclass(frozen=True, slots=True)
class LeftMachine:
    model: str
    masked: dict[str, int]
    sent: str | None
    """None when the tenant's retention keeps no bodies (or they have expired)."""


async def what_left(
    services: Services, tenant_id: str, messages: list[dict[str, Any]]
) -> dict[int, LeftMachine]:
    """Message index -> what its partner call sent, for the answers that came from a partner."""
    wanted = {
        m["request_id"]: i
        for i, m in enumerate(messages)
        if m.get("role") == "assistant" and m.get("request_id")
    }
    calls = await services.audit.for_requests(list(wanted), tenant_id)
    bodies = await services.audit.bodies([c.id for c in calls], tenant_id=tenant_id)
    shown: dict[int, LeftMachine] = {}
    for call in calls:  # a retried call shows its last attempt
        body = bodies.get(call.id)
        shown[wanted[call.request_id]] = LeftMachine(
            call.model, call.pii, readable(body[0]) if body else None
        )
    return shown


def readable(sent: str) -> str:
    """The guard keeps what it sent as the messages' JSON: shown as "role: text" lines."""
    try:
        messages = json.loads(sent)
    except ValueError:
        return sent
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        return sent
    return "\n\n".join(f"{m.get('role', '?')}: {m.get('content', '')}" for m in messages)
