"""Licences that open models carry, and the terms corral enforces for each."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from corral.errors import NotFound
from corral.settings import LicenceConfig, Settings


@dataclass(frozen=True, slots=True)
class Licence:
    id: str
    version: str
    name: str
    url: str | None
    text: str | None
    text_sha256: str | None
    requires_acceptance: bool
    mau_threshold: int | None
    gated: bool


APACHE_2 = Licence(
    id="apache-2.0",
    version="2.0",
    name="Apache License 2.0",
    url="https://www.apache.org/licenses/LICENSE-2.0",
    text=None,
    text_sha256=None,
    requires_acceptance=False,
    mau_threshold=None,
    gated=False,
)


def from_config(config: LicenceConfig) -> Licence:
    text = config.text_file.read_text(encoding="utf-8") if config.text_file else None
    digest = config.text_sha256
    if text is not None:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Licence(
        id=config.id,
        version=config.version,
        name=config.name,
        url=config.url,
        text=text,
        text_sha256=digest,
        requires_acceptance=config.requires_acceptance,
        mau_threshold=config.mau_threshold,
        gated=config.gated,
    )


class LicenceBook:
    def __init__(self, licences: list[Licence]) -> None:
        self._licences = {licence.id: licence for licence in licences}

    def get(self, licence_id: str) -> Licence:
        licence = self._licences.get(licence_id)
        if licence is None:
            raise NotFound(
                f"No licence with id '{licence_id}'. GET /v1/licences lists them.",
                param="licence_id",
                code="licence_not_found",
            )
        return licence

    def find(self, licence_id: str | None) -> Licence | None:
        return self._licences.get(licence_id) if licence_id else None

    def all(self) -> list[Licence]:
        return list(self._licences.values())


def build_licences(settings: Settings) -> LicenceBook:
    return LicenceBook([APACHE_2, *(from_config(c) for c in settings.licences)])
