"""Wire schemas of `/v1/licences`."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel

from corral.catalog.licences import Licence


class LicenceCard(BaseModel):
    id: str
    object: Literal["licence"] = "licence"
    version: str
    name: str
    url: str | None
    text_sha256: str | None
    requires_acceptance: bool
    mau_threshold: int | None
    gated: bool
    accepted_version: str | None = None
    """The version the calling tenant accepted, if any."""
    text: str | None = None

    @classmethod
    def of(cls, licence: Licence, accepted: str | None, with_text: bool = False) -> LicenceCard:
        return cls(
            id=licence.id,
            version=licence.version,
            name=licence.name,
            url=licence.url,
            text_sha256=licence.text_sha256,
            requires_acceptance=licence.requires_acceptance,
            mau_threshold=licence.mau_threshold,
            gated=licence.gated,
            accepted_version=accepted,
            text=licence.text if with_text else None,
        )


class LicenceList(BaseModel):
    object: Literal["list"] = "list"
    data: list[LicenceCard]


class Acceptance(BaseModel):
    object: Literal["licence.acceptance"] = "licence.acceptance"
    licence_id: str
    licence_version: str
    text_sha256: str | None
    key_id: str
    accepted_at: dt.datetime
