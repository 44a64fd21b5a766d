"""The one place where the guard asks what in a request is personal data.

`detect(detector, texts, strict=..., deadline=...)` returns, for each text of one request, its
spans. Every caller that scans a request for a partner goes through here, so the operating
point (recall first, or `strict`) is chosen in one place.

`strict` (the `pseudonymize_strict` policy) also takes every run of 7 or more digits that no
finder claimed, whatever separates them (a number the phone patterns do not know is still a
number someone could be reached or identified by), a date among them as a DOB (any date may
be a birth date).
"""

from __future__ import annotations

import re

from corral.privacy.detect import Detector, Span

# Digits with the separators people put between them: "030/4482913", "0171 23 45 678".
_DIGIT_RUN = re.compile(r"\d(?:[\d \-/.()]*\d)?")
_STRICT_DIGITS = 7
_DATE = re.compile(r"\d{1,4}[-./]\d{1,2}[-./]\d{2,4}")

__all__ = ["detect"]


def detect(
    detector: Detector, texts: list[str], *, strict: bool, deadline: float | None
) -> list[list[Span]]:
    """The spans of personal data in each text, in order, never overlapping; with a
    `deadline` (a `time.monotonic()` value), `DetectionTimeout` once past it."""
    found = [detector.detect(text, deadline) for text in texts]
    if strict:
        found = [_with_digit_runs(text, spans) for text, spans in zip(texts, found, strict=True)]
    return found


def _with_digit_runs(text: str, spans: list[Span]) -> list[Span]:
    covered = bytearray(len(text))
    for span in spans:
        covered[span.start : span.end] = b"\x01" * (span.end - span.start)
    extra = [
        Span(m.start(), m.end(), "DOB" if _DATE.fullmatch(m.group(0)) else "PHONE", m.group(0))
        for m in _DIGIT_RUN.finditer(text)
        if sum(c.isdigit() for c in m.group(0)) >= _STRICT_DIGITS
        and covered.find(1, m.start(), m.end()) == -1
    ]
    if not extra:
        return spans
    return sorted([*spans, *extra], key=lambda s: s.start)
