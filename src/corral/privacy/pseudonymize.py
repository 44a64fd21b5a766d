"""Pseudonymise the messages of one request and restore the provider's answer.

`Pseudonymizer.mask(texts)` replaces every detected value with a typed placeholder such as
`[PERSON_1]`, the same value getting the same placeholder in every message. The mapping lives
in the returned `Masked` object only: one request, one mapping. `StreamRestorer` puts values
back into a streamed answer, holding back a chunk's tail that may be the start of a placeholder.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from corral.privacy.detect import CATEGORIES, MODES, Detector, Span

PLACEHOLDER = re.compile(r"\[(" + "|".join(CATEGORIES) + r")_(\d+)\]")
# A suffix that may still grow into a placeholder: "[", "[PER", "[PERSON_", "[PERSON_12".
PARTIAL = re.compile(r"\[(?:[A-Z]{0,7}|(?:" + "|".join(CATEGORIES) + r")_\d{0,6})$")

__all__ = ["POLICY_MODES", "Masked", "Pseudonymizer", "StreamRestorer", "replace_spans", "restore"]


def restore(text: str, mapping: dict[str, str]) -> str:
    """Text with every known placeholder replaced by its original value."""
    if "[" not in text:
        return text
    return PLACEHOLDER.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)


@dataclass
class Masked:
    """The masked texts of one request, the placeholder mapping and per-category counts."""

    texts: list[str]
    mapping: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def restore(self, text: str) -> str:
        return restore(text, self.mapping)


POLICY_MODES = {"pseudonymize": "recall", "pseudonymize_strict": "strict"}
"""The detector mode of each masking policy a tenant may choose."""


class _Numbering:
    """Placeholders of one request: one per (category, value), skipping any already in the text."""

    def __init__(self, taken: set[str]) -> None:
        self.taken = taken
        self.by_value: dict[tuple[str, str], str] = {}
        self.next: Counter[str] = Counter()
        self.mapping: dict[str, str] = {}

    def placeholder(self, label: str, value: str) -> str:
        key = (label, value)
        if key not in self.by_value:
            while True:
                self.next[label] += 1
                candidate = f"[{label}_{self.next[label]}]"
                if candidate not in self.taken:
                    break
            self.by_value[key] = candidate
            self.mapping[candidate] = value
        return self.by_value[key]


class Pseudonymizer:
    """Masks personal data in the messages of a request. Holds no per-request state."""

    def __init__(self, detector: Detector | None = None) -> None:
        self.detector = detector or Detector()
        self._by_mode = {self.detector.mode: self.detector}
        for mode in MODES:
            self._by_mode.setdefault(mode, Detector(self.detector.gazetteer, mode))

    def mask(
        self, texts: list[str], deadline: float | None = None, mode: str | None = None
    ) -> Masked:
        """The texts masked; with a `deadline` (monotonic), `DetectionTimeout` once past it.

        `mode` is "recall" or "strict" (see `POLICY_MODES`); the detector's own by default.
        A value found in one message is masked in every message of the request.
        """
        detector = self.detector if mode is None else self._detector(mode)
        return replace_spans(texts, detector.detect_all(texts, deadline))

    def _detector(self, mode: str) -> Detector:
        if mode not in self._by_mode:
            raise ValueError(f"unknown privacy mode {mode!r}; expected one of {MODES}")
        return self._by_mode[mode]


def replace_spans(texts: list[str], found: list[list[Span]]) -> Masked:
    """Each text with its spans (sorted, non-overlapping) replaced by placeholders, one
    mapping for all of them."""
    if not any(found):  # nothing personal (most requests): the texts go as they are
        return Masked(list(texts))
    taken = {m.group(0) for text in texts for m in PLACEHOLDER.finditer(text)}
    numbering = _Numbering(taken)
    counts: Counter[str] = Counter()
    masked: list[str] = []
    for text, spans in zip(texts, found, strict=True):
        parts: list[str] = []
        pos = 0
        for span in spans:
            parts += [text[pos : span.start], numbering.placeholder(span.label, span.text)]
            counts[span.label] += 1
            pos = span.end
        parts.append(text[pos:])
        masked.append("".join(parts))
    return Masked(masked, numbering.mapping, dict(counts))


class StreamRestorer:
    """Restores a streamed answer chunk by chunk; a placeholder may be split across chunks."""

    def __init__(self, mapping: dict[str, str]) -> None:
        self.mapping = mapping
        self.pending = ""

    def feed(self, chunk: str) -> str:
        """The restored text that is safe to send now; a possible partial placeholder waits."""
        text = self.pending + chunk
        cut = text.rfind("[")
        if cut != -1 and PARTIAL.search(text, cut):
            self.pending = text[cut:]
            text = text[:cut]
        else:
            self.pending = ""
        return restore(text, self.mapping)

    def flush(self) -> str:
        """Whatever is still held back, at the end of the stream."""
        text, self.pending = self.pending, ""
        return restore(text, self.mapping)
