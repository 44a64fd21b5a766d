"""Postal addresses: US-style ("12 Oak Street Apt. 4, Springfield, IL 62704") and German
("Lindenstraße 5, 10115 Berlin"), found by street-type patterns and house numbers."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from corral.privacy.patterns import DE_ADDRESS, Span

CAP = r"[A-Z][a-z]+"


@cache
def _en_address() -> re.Pattern[str]:
    text = resources.files("corral.privacy").joinpath("data/street_types_en.txt").read_text("utf-8")
    types = sorted((t for t in text.split() if t), key=len, reverse=True)
    suffix = "|".join(re.escape(t) for t in types)
    return re.compile(
        rf"\b\d{{1,6}} (?:[NSEW]\.? )?(?:{CAP} ){{1,3}}(?:{suffix})\b\.?"
        rf"(?: (?:Apt\.?|Suite|Unit|#) ?\d{{1,5}})?"
        rf"(?:(?:,[ ]?|\n)(?:{CAP} ){{0,2}}{CAP},? [A-Z]{{2}} \d{{5}}(?:-\d{{4}})?)?"
    )


def find_addresses(text: str) -> list[Span]:
    """Street addresses with an optional city/state/postcode line, in English or German."""
    found = [Span(m.start(), m.end(), "ADDRESS", m.group(0)) for m in _en_address().finditer(text)]
    found += [Span(m.start(), m.end(), "ADDRESS", m.group(0)) for m in DE_ADDRESS.finditer(text)]
    return found
