"""Wire schema of audit events: who called which partner, and what was masked (counts only)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel

from corral.privacy.audit import AuditView
from corral.settings import Policy


class AuditEventOut(BaseModel):
    id: int
    object: Literal["audit.event"] = "audit.event"
    at: dt.datetime
    request_id: str
    tenant: str | None
    api_key_id: str
    model: str
    backend: str
    policy: Policy
    pseudonymized: dict[str, int]
    """How many values of each kind of personal data were replaced before sending."""

    @classmethod
    def of(cls, view: AuditView) -> AuditEventOut:
        return cls(
            id=view.id,
            at=view.at,
            request_id=view.request_id,
            tenant=view.tenant,
            api_key_id=view.key_id,
            model=view.model,
            backend=view.backend,
            policy=view.policy,
            pseudonymized=view.pii,
        )


class AuditList(BaseModel):
    object: Literal["list"] = "list"
    data: list[AuditEventOut]
