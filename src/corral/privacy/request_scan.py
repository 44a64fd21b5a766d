"""The one place where the guard asks what in a request is personal data.

`detect(detector, texts, strict=..., deadline=...)` returns, for each text of one request, its
spans. Every caller that scans a request for a partner goes through here, so the operating
point is chosen in one place: the detector's `recall` mode for `pseudonymize`, its `strict`
mode (every name candidate, every run of 7+ digits, every date near a person) for
`pseudonymize_strict` (`POLICY_MODES`). The texts are scanned together, so a value found in one
of them is masked wherever it recurs (`Detector.detect_all`).
"""

from __future__ import annotations

import functools

from corral.privacy.detect import Detector, Span
from corral.privacy.pseudonymize import POLICY_MODES

__all__ = ["detect"]

_STRICT = POLICY_MODES["pseudonymize_strict"]


def detect(
    detector: Detector, texts: list[str], *, strict: bool, deadline: float | None
) -> list[list[Span]]:
    """The spans of personal data in each text, in order, never overlapping; with a
    `deadline` (a `time.monotonic()` value), `DetectionTimeout` once past it."""
    chosen = _strict_twin(detector) if strict and detector.mode != _STRICT else detector
    return chosen.detect_all(texts, deadline)


@functools.cache  # one twin per detector, kept for the process, as the detector is
def _strict_twin(detector: Detector) -> Detector:
    """The strict detector on the same name lists (built once: the lists are the costly part)."""
    return Detector(detector.gazetteer, _STRICT)
