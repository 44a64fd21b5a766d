"""Person names: gazetteers of first and last names plus context cues (titles, greetings,
"my name is", signature lines). The name lists are Faker's person data of several locales,
minus common English and German words (see docs/privacy.md)."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from corral.privacy.patterns import Span

TOKEN = re.compile(r"[A-ZÄÖÜ][a-zäöüßéèáàçñ']+(?:-[A-ZÄÖÜ][a-zäöüßéèáàçñ']+)*")
TITLE_CUE = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Miss|Dr|Prof|Herr|Herrn|Frau|Hr|Fr)\.?|Dipl\.-Ing\.) $")
PHRASE_CUE = re.compile(
    r"(?i)(?:\b(?:my name is|i am|i'm|name ist|ich heiße|ich bin|account holder|kontoinhaber"
    r"|patient:|contact|kontakt|dear|liebe/r|liebe|lieber|hi|hello|hallo|hey|servus|moin"
    r"|cheers|thanks|danke|lg|ask|ping|frag bitte|met|forward this to|an),? )$"
)
CLOSING = re.compile(
    r"(?i)^(?:best|thanks|thank you|cheers|regards|kind regards|best regards|sincerely|"
    r"viele grüße|beste grüße|liebe grüße|lg|mfg|mit freundlichen grüßen|gruß|grüße|danke),?$"
)


def _words(name: str) -> frozenset[str]:
    path = resources.files("corral.privacy").joinpath(f"data/{name}.txt")
    return frozenset(w for w in path.read_text("utf-8").split("\n") if w)


PLACE_PREFIX = _words("place_prefixes")  # "Port Jennifer" is a town
NOT_NAMES = _words("not_names")  # titles, months, weekdays, greetings, company forms


@dataclass(frozen=True)
class Gazetteer:
    """First names, last names and common words (capitalised words that are not names)."""

    first: frozenset[str]
    last: frozenset[str]
    common: frozenset[str]

    @classmethod
    @cache
    def default(cls) -> Gazetteer:
        common = _words("common_words") | {w.lower() for w in _words("common_extra")}
        return cls(_words("first_names"), _words("last_names"), common)

    def is_common(self, word: str) -> bool:
        return word in NOT_NAMES or word.lower() in self.common

    def is_first(self, word: str) -> bool:
        return word in self.first and not self.is_common(word)


PARTICLES = re.compile(r" (?:(?:van|von|de|der|den|zu|del|da|di|du|le|la|ten|ter|vom|zum) )*")
COMPANY_AFTER = re.compile(
    r"(?:-[A-Z][a-z]+)* (?:Inc|LLC|Ltd|PLC|Group|GmbH|AG|KG|Corp|and Sons|Stiftung)\b"
)
COMPANY_LIST = re.compile(r"([A-Z][a-z]+), ([A-Z][a-z]+) (?:and|und|&) ([A-Z][a-z]+)")


def _adjacent(text: str, left: re.Match[str], right: re.Match[str]) -> bool:
    gap = PARTICLES.fullmatch(text, left.end(), right.start())
    return gap is not None


def _company_ranges(text: str, gaz: Gazetteer) -> list[tuple[int, int]]:
    """Firm names such as "Walker, Reyes and Cain": three surnames in a row."""
    return [
        (m.start(), m.end())
        for m in COMPANY_LIST.finditer(text)
        if all(w in gaz.last for w in m.groups())
    ]


MAX_CLOSING = 40
"""A closing line ("Mit freundlichen Grüßen") is short; a longer line is none, unread."""


def _inside(ranges: list[tuple[int, int]], starts: list[int], position: int) -> bool:
    """Whether position lies in one of the sorted, disjoint ranges (a binary search)."""
    i = bisect.bisect_right(starts, position) - 1
    return i >= 0 and position < ranges[i][1]


def _signature_line(text: str, m: re.Match[str]) -> bool:
    # Looks back over spaces and one short line only: a scan back to the previous newline for
    # every word made a text without newlines quadratic.
    line_start = m.start()
    while line_start and text[line_start - 1] == " ":
        line_start -= 1
    if line_start == 0 or text[line_start - 1] != "\n":
        return False
    prev_start = text.rfind("\n", max(0, line_start - 2 - MAX_CLOSING), line_start - 1) + 1
    if prev_start == 0 and line_start - 1 > MAX_CLOSING:
        return False
    return bool(CLOSING.match(text[prev_start : line_start - 1].strip()))


def _cued(text: str, m: re.Match[str], gaz: Gazetteer) -> bool:
    before = text[max(0, m.start() - 24) : m.start()]
    if TITLE_CUE.search(before):
        return True
    if gaz.is_common(m.group(0)):
        return False
    return bool(PHRASE_CUE.search(before)) or _signature_line(text, m)


def _start(text: str, tokens: list[re.Match[str]], i: int, gaz: Gazetteer) -> bool:
    word = tokens[i].group(0)
    if word in NOT_NAMES:
        return False
    if COMPANY_AFTER.match(text, tokens[i].end()):
        return False
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    if i and _adjacent(text, tokens[i - 1], tokens[i]) and tokens[i - 1].group(0) in PLACE_PREFIX:
        return False
    if gaz.is_first(word) or _cued(text, tokens[i], gaz):
        return True
    return (
        word in gaz.first
        and nxt is not None
        and _adjacent(text, tokens[i], nxt)
        and nxt.group(0) in gaz.last
        and not gaz.is_common(nxt.group(0))
    )


def find_names(text: str, gaz: Gazetteer) -> list[Span]:
    """Person names: a known first name or a cued capitalised word, plus a following surname."""
    firms = _company_ranges(text, gaz)  # in order and apart: finditer's matches
    starts = [a for a, _ in firms]
    tokens = [t for t in TOKEN.finditer(text) if not _inside(firms, starts, t.start())]
    found: list[Span] = []
    i = 0
    while i < len(tokens):
        if not _start(text, tokens, i, gaz):
            i += 1
            continue
        j = i
        while j + 1 < len(tokens) and j - i < 2 and _adjacent(text, tokens[j], tokens[j + 1]):
            nxt = tokens[j + 1].group(0)
            if gaz.is_common(nxt) and nxt not in gaz.last:
                break
            j += 1
        start, end = tokens[i].start(), tokens[j].end()
        found.append(Span(start, end, "PERSON", text[start:end]))
        i = j + 1
    return found
