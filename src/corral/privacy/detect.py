"""The detector: runs every category's finder and the structural parsers, keeps non-overlapping
spans by priority, and propagates: a value found anywhere in a request (and each part of a
name: first name, surname) is found everywhere in it.

Categories: PERSON, EMAIL, PHONE, IBAN, CARD, IP, ADDRESS, DOB, and NUMBER (strict mode only).
Modes: `recall` (the default: favours recall, since a miss leaks and a false positive only
costs a word of the answer) and `strict` (also every name candidate, every run of 7 or more
digits and every date near a person).
"""

from __future__ import annotations

import re
import time
from functools import cached_property

from corral.privacy import initials
from corral.privacy.address import find_addresses
from corral.privacy.cues import NO_ONE, TITLE
from corral.privacy.gazetteer import NOT_NAMES, Gazetteer, normal
from corral.privacy.names import NameFinder
from corral.privacy.organisations import organisation_spans
from corral.privacy.patterns import (
    DIGIT,
    Span,
    find_birth_dates,
    find_cards,
    find_dates,
    find_emails,
    find_ibans,
    find_ips,
    find_phones,
)
from corral.privacy.places import named_place
from corral.privacy.shapes import address_names, find_shapes, without_names
from corral.privacy.structure import find_structures

CATEGORIES = ("PERSON", "EMAIL", "PHONE", "IBAN", "CARD", "IP", "ADDRESS", "DOB", "NUMBER")
MODES = ("recall", "strict")
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
    "NUMBER": 1,
}
EXACT = ("EMAIL", "PHONE", "IBAN", "CARD", "IP")
"""Categories propagated as the exact string; names are propagated case-insensitively."""
DIGIT_RUN = re.compile(r"(?<![\w])\d(?:[ ./-]?\d){6,}(?![\w])")
MAX_SEARCH = 4_000_000
"""Values times characters above which propagation looks words up instead of searching each
value (20,000 distinct names in 200 KB would be 4e9 character comparisons)."""
# A capital inside a word, not after a name's prefix: a brand or product ("SharePoint",
# "ParentPay", "GmbH"), never read as a name in running text (a chat's sender still is).
BRANDED = re.compile(r"\b(?!Mc|Mac|De|Da|Di|Du|La|Le|Van|Von|Fitz)[A-ZÀ-Þ]?[a-zß-ÿ]+[A-ZÀ-Þ]")
INITIALS = re.compile(initials.INITIALS)  # "JK", "MO'D": found again only as written
WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")
NICKNAME = re.compile(
    r"[ \t](?:\"[^\"\n]{1,20}\"|[\u201c\u201e][^\u201c\u201d\n]{1,20}[\u201c\u201d]"
    r"|\([A-Z][^)\n]{0,19}\))[ \t]"
    r"([A-ZÀ-Þ][^\W\d_]+(?:-[A-ZÀ-Þ][^\W\d_]+)?)"
)
"""A nickname in quotes or brackets between a first name and a surname."""
LIST_HEAD = re.compile(
    r"(?:^|\n)[ \t]*(?:\d{1,2}[.)]|[-*\u2022])[ \t]+((?:[A-ZÀ-Þ][^\W\d_]+ ){1,2})$"
)
"""A list item's marker and the capitalised words before a name that ends the item."""
LINE_END = re.compile(r"[ \t]*(?:\n|$)")
NEAR_PERSON = 60
"""Characters between a date and a name within which strict mode takes the date for a DOB."""

__all__ = ["CATEGORIES", "MODES", "DetectionTimeout", "Detector", "Span"]


class DetectionTimeout(Exception):
    """Detection ran past its deadline; nothing found so far may be trusted to be complete."""


class _Taken:
    """Which characters of a text some span covers: an overlap test costs the span's length,
    not the number of spans (a pairwise test made a text of many spans quadratic)."""

    def __init__(self, length: int) -> None:
        self._covered = bytearray(length)

    def overlaps(self, span: Span) -> bool:
        return self._covered.find(1, span.start, span.end) != -1

    def first(self, span: Span) -> int:
        """Where the first covered character of span is (span.end if none)."""
        found = self._covered.find(1, span.start, span.end)
        return span.end if found == -1 else found

    def add(self, span: Span) -> None:
        self._covered[span.start : span.end] = b"\x01" * (span.end - span.start)


def _resolve(length: int, candidates: list[Span]) -> list[Span]:
    if not candidates:  # most texts: no map of the text to make
        return []
    candidates.sort(key=lambda s: (-PRIORITY[s.label], s.start - s.end, s.start))
    kept, taken = [], _Taken(length)
    for span in candidates:
        first = taken.first(span)
        if first < span.end and span.label == "PERSON":
            span = _before(span, first)  # "William J. Hawthorne, PO Box 1908"
        elif first < span.end:
            continue
        if span.end > span.start:
            kept.append(span)
            taken.add(span)
    return sorted(kept, key=lambda s: s.start)


def _before(span: Span, end: int) -> Span:
    """The part of a name before a value that took the rest of it."""
    value = span.text[: end - span.start].rstrip(" ,;-\n")
    return Span(span.start, span.start + len(value), span.label, value)


class Detector:
    """Finds personal data in English and German text. Stateless and thread-safe."""

    def __init__(self, gazetteer: Gazetteer | None = None, mode: str = "recall") -> None:
        if mode not in MODES:
            raise ValueError(f"unknown privacy mode {mode!r}; expected one of {MODES}")
        self._given = gazetteer
        self.mode = mode

    @cached_property
    def gazetteer(self) -> Gazetteer:
        """The name lists, read at the first detection (their memory and load time: see
        docs/privacy.md): a server that serves no partner model never holds them."""
        return self._given or Gazetteer.default()

    @cached_property
    def names(self) -> NameFinder:
        return NameFinder(self.gazetteer, strict=self.mode == "strict")

    def load(self) -> None:
        """Read the name lists now. A server with partner models does so as it starts, before
        it freezes its startup objects: read later, the lists' hundred thousand strings would
        be walked by every full garbage collection of the process."""
        self.names  # noqa: B018 - read for its effect: the cached lists

    def detect(self, text: str, deadline: float | None = None) -> list[Span]:
        """The personal data in text, sorted by position, never overlapping.

        With a `deadline` (a `time.monotonic()` value), raises `DetectionTimeout` once past
        it, checked between the finders (each is linear in the text).
        """
        return self.detect_all([text], deadline)[0]

    def detect_all(self, texts: list[str], deadline: float | None = None) -> list[list[Span]]:
        """The personal data of each text of one request; a value found in any text (and each
        part of a name) is found wherever else it occurs in any of them."""
        check = _Clock(deadline)
        found = [self._join(t, self._pick(t, check)) for t in texts]
        values = _Values(found, self.gazetteer)
        if not values:
            return found
        out = []
        for text, spans in zip(texts, found, strict=True):
            spread = values.find(text)
            firms = organisation_spans(text, spread) if spread else set()
            spread = [s for s in spread if s not in firms]
            out.append(self._join(text, _resolve(len(text), [*spans, *spread])))
            check()
        return out

    def _join(self, text: str, spans: list[Span]) -> list[Span]:
        """Names next to each other are one name: "Renate Sommer" (found as a first name and a
        surname seen elsewhere), a nickname in quotes with the surname after it ('Patrick
        "Paddy" Gallagher'), and the capitalised words before a name that ends a list item
        ("5. Mei Ling Tan")."""
        out: list[Span] = []
        for span in spans:
            last = out[-1] if out else None
            if last is not None and span.start < last.end:
                continue  # inside a name a nickname joined
            if span.label == "PERSON":
                item = _list_item(text, span)
                if last is None or item.start >= last.end:
                    span = item
                elif last.label == "PERSON":  # the item's words held a name: one name
                    span = Span(last.start, item.end, "PERSON", text[last.start : item.end])
                    out.pop()
                    last = out[-1] if out else None
            if last is None or last.label != "PERSON" or span.label != "PERSON":
                out.append(self._nickname(text, span))
            elif text[last.end : span.start] in (" ", "-"):
                out[-1] = Span(last.start, span.end, "PERSON", text[last.start : span.end])
            else:
                out.append(self._nickname(text, span))
        return out

    def _nickname(self, text: str, span: Span) -> Span:
        m = NICKNAME.match(text, span.end) if span.label == "PERSON" else None
        if m is None:
            return span
        surname = m.group(1)
        gaz = self.gazetteer
        if not (gaz.is_name(surname) or gaz.is_unknown(surname) or surname in gaz.last):
            return span
        return Span(span.start, m.end(), "PERSON", text[span.start : m.end()])

    def _no_one(self, value: str) -> bool:
        """A name's place taken by a town ("Surulere"), a department ("Facilities") or a
        family word ("ammi:", "Nani"): no one's name, whatever found it."""
        words = value.lower().split()
        return normal(value) in self.gazetteer.places or all(w in NO_ONE for w in words)

    def _place(self, text: str, span: Span) -> bool:
        return named_place(text, span, self.gazetteer)

    def _candidates(self, text: str, check: _Clock) -> list[Span]:
        candidates = [*find_emails(text), *find_ips(text)]
        structures = [*find_structures(text, self.gazetteer), *find_shapes(text, self.gazetteer)]
        addresses = without_names(text, find_addresses(text), self.gazetteer)
        candidates += addresses
        candidates += [s for s in structures if s.label in ("ADDRESS", "DOB", "PHONE")]
        check()
        dates: list[Span] = []
        # Every pattern of a number needs a digit: a text without one (most short prompts)
        # skips them all with one search, a tenth of its scan (bench/gateway_cpu.py).
        if DIGIT.search(text):
            dates = find_dates(text)
            candidates += _numbers(text, candidates, dates)
            check()
        named = [p for p in self.names.find(text) if not BRANDED.search(p.text)]
        people = [*named, *(s for s in structures if s.label == "PERSON")]
        if addresses and "\n" in text:
            people += address_names(text, addresses, self.gazetteer)
        people = [p for p in people if not (self._no_one(p.text) or self._place(text, p))]
        candidates += people
        if self.mode == "strict":
            candidates += [
                Span(m.start(), m.end(), "NUMBER", m.group(0)) for m in DIGIT_RUN.finditer(text)
            ]
            candidates += [
                Span(d.start, d.end, "DOB", d.text)
                for d in dates
                if any(
                    abs(d.start - p.end) < NEAR_PERSON or abs(p.start - d.end) < NEAR_PERSON
                    for p in people
                )
            ]
        check()
        return candidates

    def _pick(self, text: str, check: _Clock) -> list[Span]:
        """The candidates that do not overlap, less an organisation's own contact details."""
        candidates = self._candidates(text, check)
        if not candidates:
            return []
        organisations = organisation_spans(text, candidates)
        return [s for s in _resolve(len(text), candidates) if s not in organisations]


def _list_item(text: str, span: Span) -> Span:
    head = LIST_HEAD.search(text, max(0, span.start - 40), span.start)
    if head is None or not LINE_END.match(text, span.end):
        return span
    start = head.start(1)
    return Span(start, span.end, "PERSON", text[start : span.end])


def _numbers(text: str, found: list[Span], dates: list[Span]) -> list[Span]:
    """IBANs, cards, birth dates, and the phone numbers that are none of these, nor part of
    a date, an IBAN-shaped string or a value already `found`."""
    ibans, iban_shapes = find_ibans(text)
    numbers = [*ibans, *find_cards(text), *find_birth_dates(text, dates)]
    blockers = _Taken(len(text))
    for span in [*found, *numbers, *iban_shapes, *dates]:
        blockers.add(span)
    return numbers + [p for p in find_phones(text) if not blockers.overlaps(p)]


def _name_parts(value: str, gaz: Gazetteer) -> list[str]:
    """A name and its parts worth finding alone: not titles, initials or common words."""
    parts = [value]
    words = [w.strip(".,") for w in value.split()]
    if len(words) > 1:
        for w in words:
            if (
                len(w) > 2
                and w not in NOT_NAMES
                and not TITLE.search(w + " ")
                and not gaz.is_common(w)
            ):
                parts.append(w)
    return parts


class _Values:
    """Every value of one request to find again: names case-insensitively (lower-case chat),
    except a part that is also a frequent word ("Will", "Mark") or initials ("JK"), which
    must match its case; the structured categories as the exact string. Plain substring
    search with word-boundary checks: compiling a pattern of the request's values cost more
    than detecting them."""

    def __init__(self, found: list[list[Span]], gaz: Gazetteer) -> None:
        self.loose: set[str] = set()
        self.cased: dict[str, str] = {}
        for spans in found:
            for s in spans:
                if s.label == "PERSON":
                    for part in _name_parts(s.text, gaz):
                        if part.lower() in gaz.frequent or INITIALS.fullmatch(part):
                            self.cased[part] = "PERSON"
                        else:
                            self.loose.add(part.lower())
                elif s.label in EXACT:
                    self.cased[s.text] = s.label

    def __bool__(self) -> bool:
        return bool(self.loose or self.cased)

    def find(self, text: str) -> list[Span]:
        if (len(self.loose) + len(self.cased)) * len(text) > MAX_SEARCH:
            return self._find_words(text)
        out: list[Span] = []
        lower = text.lower() if self.loose else text
        for values, haystack in ((self.loose, lower), (self.cased, text)):
            for value in values:
                label = self.cased.get(value, "PERSON") if values is self.cased else "PERSON"
                out += _occurrences(text, haystack, value, label)
        return out

    def _find_words(self, text: str) -> list[Span]:
        """Many values in a long text: each word looked up once, so the cost stays linear.
        Structured values need no second search here: their patterns find them anywhere."""
        out = []
        for m in WORD.finditer(text):
            word = m.group(0)
            if word.lower() in self.loose or self.cased.get(word) == "PERSON":
                out.append(Span(m.start(), m.end(), "PERSON", word))
            elif word.endswith("s") and word[:-1].lower() in self.loose:  # "Buraks Auto"
                out.append(Span(m.start(), m.end() - 1, "PERSON", word[:-1]))
        return out


def _occurrences(text: str, haystack: str, value: str, label: str) -> list[Span]:
    out = []
    start = haystack.find(value)
    while start != -1:
        end = start + len(value)
        if not (start and text[start - 1].isalnum()) and (
            not _goes_on(text, end) or (label == "PERSON" and _genitive_after(text, end))
        ):
            out.append(Span(start, end, label, text[start:end]))
        start = haystack.find(value, end)
    return out


def _goes_on(text: str, end: int) -> bool:
    return end < len(text) and text[end].isalnum()


def _genitive_after(text: str, end: int) -> bool:
    """A German genitive "s" after a name ("Buraks Auto"): the name is found all the same."""
    return text.startswith("s", end) and not _goes_on(text, end + 1)


class _Clock:
    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline

    def __call__(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise DetectionTimeout("personal data detection ran past its deadline")
