"""The detector: runs every category's finder and keeps non-overlapping spans by priority.

Categories: PERSON, EMAIL, PHONE, IBAN, CARD, IP, ADDRESS, DOB.
"""

from __future__ import annotations

import time

from corral.privacy.address import find_addresses
from corral.privacy.names import Gazetteer, find_names
from corral.privacy.patterns import (
    Span,
    find_birth_dates,
    find_cards,
    find_dates,
    find_emails,
    find_ibans,
    find_ips,
    find_phones,
)

CATEGORIES = ("PERSON", "EMAIL", "PHONE", "IBAN", "CARD", "IP", "ADDRESS", "DOB")
# Higher wins where two spans overlap; DATE and IBAN-shaped strings block phones only.
PRIORITY = {
    "EMAIL": 9,
    "IBAN": 8,
    "CARD": 7,
    "IP": 6,
    "DOB": 5,
    "ADDRESS": 4,
    "PHONE": 3,
    "PERSON": 2,
}

__all__ = ["CATEGORIES", "DetectionTimeout", "Detector", "Span"]


class DetectionTimeout(Exception):
    """Detection ran past its deadline; nothing found so far may be trusted to be complete."""


class _Taken:
    """Which characters of a text some span covers: an overlap test costs the span's length,
    not the number of spans (a pairwise test made a text of many spans quadratic)."""

    def __init__(self, length: int) -> None:
        self._covered = bytearray(length)

    def overlaps(self, span: Span) -> bool:
        return self._covered.find(1, span.start, span.end) != -1

    def add(self, span: Span) -> None:
        self._covered[span.start : span.end] = b"\x01" * (span.end - span.start)


class Detector:
    """Finds personal data in English and German text. Stateless and thread-safe."""

    def __init__(self, gazetteer: Gazetteer | None = None) -> None:
        self.gazetteer = gazetteer or Gazetteer.default()

    def detect(self, text: str, deadline: float | None = None) -> list[Span]:
        """The personal data in text, sorted by position, never overlapping.

        With a `deadline` (a `time.monotonic()` value), raises `DetectionTimeout` once past
        it, checked between the finders (each is linear in the text).
        """
        check = _Clock(deadline)
        ibans, iban_shapes = find_ibans(text)
        candidates = [*find_emails(text), *ibans, *find_cards(text), *find_ips(text)]
        check()
        candidates += [*find_birth_dates(text), *find_addresses(text)]
        check()
        blockers = _Taken(len(text))
        for span in [*candidates, *iban_shapes, *find_dates(text)]:
            blockers.add(span)
        candidates += [p for p in find_phones(text) if not blockers.overlaps(p)]
        check()
        candidates += find_names(text, self.gazetteer)
        check()
        candidates.sort(key=lambda s: (-PRIORITY[s.label], s.start - s.end))
        kept, taken = [], _Taken(len(text))
        for span in candidates:
            if not taken.overlaps(span):
                kept.append(span)
                taken.add(span)
        return sorted(kept, key=lambda s: s.start)


class _Clock:
    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline

    def __call__(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise DetectionTimeout("personal data detection ran past its deadline")
