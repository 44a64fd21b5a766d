"""Towns and countries whose names are people's names too ("Kingston", "Jordan", "Victoria"):
a place where a place stands, a person anywhere else."""

from __future__ import annotations

import re

from corral.privacy.gazetteer import Gazetteer
from corral.privacy.patterns import Span

PLACE_IN = re.compile(
    r"(?i)\b(?:in|near|around|outside|across|via|nach|aus"
    r"|(?:travel\w*|fly|flying|flights?|mov\w*|trip|back|return\w*|going|go) to)\s$"
)
"""Before a name, what makes it a place. Narrower than `cues.PLACE_BEFORE` (which also holds
"from", "to", "at"), because these words are names too: "a message from Jordan"."""
ADDRESS_LOOKBACK = 80


def named_place(text: str, span: Span, gaz: Gazetteer) -> bool:
    """A town or a country that is a name too, where a place stands: after "in" or "travel to"
    ("in Kingston"), or after the comma that ends an address's short capitalised part
    ("Ikeja, Lagos", "Dublin 2, D02 X576, Ireland"); not "when you land, Bradley"."""
    if span.text not in gaz.named_places:
        return False
    if PLACE_IN.search(text, max(0, span.start - 16), span.start) is not None:
        return True
    if not text.startswith(", ", span.start - 2):
        return False
    floor = max(0, span.start - ADDRESS_LOOKBACK)
    line = text[max(text.rfind("\n", floor, span.start) + 1, floor) : span.start - 2]
    segment = line.rpartition(",")[2].split()
    if len(segment) > 4 or any(w[0].islower() for w in segment):
        return False  # a sentence before the comma
    return any(ch.isdigit() for ch in line) or any(
        w in gaz.places for w in line.replace(",", " ").split()
    )
