"""The detector: runs every category's finder and keeps non-overlapping spans by priority.

Categories: PERSON, EMAIL, PHONE, IBAN, CARD, IP, ADDRESS, DOB.
"""

from __future__ import annotations

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

__all__ = ["CATEGORIES", "Detector", "Span"]


def _overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


class Detector:
    """Finds personal data in English and German text. Stateless and thread-safe."""

    def __init__(self, gazetteer: Gazetteer | None = None) -> None:
        self.gazetteer = gazetteer or Gazetteer.default()

    def detect(self, text: str) -> list[Span]:
        """The personal data in text, sorted by position, never overlapping."""
        ibans, iban_shapes = find_ibans(text)
        candidates = [*find_emails(text), *ibans, *find_cards(text), *find_ips(text)]
        candidates += [*find_birth_dates(text), *find_addresses(text)]
        blockers = [*candidates, *iban_shapes, *find_dates(text)]
        candidates += [p for p in find_phones(text) if not any(_overlaps(p, b) for b in blockers)]
        candidates += find_names(text, self.gazetteer)
        candidates.sort(key=lambda s: (-PRIORITY[s.label], s.start - s.end))
        kept: list[Span] = []
        for span in candidates:
            if not any(_overlaps(span, k) for k in kept):
                kept.append(span)
        return sorted(kept, key=lambda s: s.start)
