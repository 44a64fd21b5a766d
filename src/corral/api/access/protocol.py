"""Wire schemas of access requests, shared by the tenant and admin routes."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from corral.accounts.views import AccessRequestView
from corral.api.common import WireModel


class AccessRequestBody(WireModel):
    reason: str = Field(min_length=1, max_length=4000)


class AccessRequestOut(BaseModel):
    id: str
    object: Literal["access_request"] = "access_request"
    tenant: str
    model: str
    reason: str
    status: str
    decision_reason: str | None
    created_at: dt.datetime
    decided_at: dt.datetime | None

    @classmethod
    def of(cls, view: AccessRequestView) -> AccessRequestOut:
        return cls(
            id=view.id,
            tenant=view.tenant,
            model=view.model,
            reason=view.reason,
            status=view.status,
            decision_reason=view.decision_reason,
            created_at=view.created_at,
            decided_at=view.decided_at,
        )


class AccessRequestList(BaseModel):
    object: Literal["list"] = "list"
    data: list[AccessRequestOut]
