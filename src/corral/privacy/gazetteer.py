"""The word lists the detector reads (name lists of every Latin-script Faker locale, common,
known and frequent words from wordfreq, words that are never names) and the tests on them,
shared by the name finder and the structure parsers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources


def wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


def _chars(test: str) -> str:
    """A regex class body of the Latin letters (ASCII to Latin Extended) that pass test."""
    codes = [*range(0x41, 0x250), *range(0x1E00, 0x1F00)]
    picked = [chr(c) for c in codes if getattr(chr(c), test)() and chr(c).isalpha()]
    return "".join(re.escape(ch) for ch in picked)


UP = _chars("isupper")
LOW = _chars("islower")
LETTERS = f"{UP}{LOW}"
DE_HINTS = wordset(
    "und der die das ist nicht ich mit ein eine sie wir bitte ihr ihre den dem sind hat auf "
    "für von zu im am auch noch schon wer wie was mein meine dein deine uns euch hier heute "
    "morgen gestern bei nach aus über aber oder wenn dass weil kein keine habe hast war wird "
    "kann soll muss ja nein danke sehr geehrte geehrter liebe lieber hallo suche gibt"
    " neue neuer neues ab vom zum zur beim ins brutto netto"
)


def _words(name: str) -> frozenset[str]:
    path = resources.files("corral.privacy").joinpath(f"data/{name}.txt")
    return frozenset(w for w in path.read_text("utf-8").split("\n") if w)


PLACE_PREFIX = _words("place_prefixes")  # "Port Jennifer" is a town
NOT_NAMES = _words("not_names")  # titles, months, weekdays, greetings, company forms


@dataclass(frozen=True)
class Gazetteer:
    """First and last names, common words (never a name alone), known words (wordfreq),
    frequent words (never a lower-case name), towns that are no one's name (never a person
    alone) and towns that are ("Kingston": a place after "in")."""

    first: frozenset[str]
    last: frozenset[str]
    common: frozenset[str]
    known: frozenset[str] = frozenset()
    frequent: frozenset[str] = frozenset()
    places: frozenset[str] = frozenset()
    named_places: frozenset[str] = frozenset()

    @classmethod
    @cache
    def default(cls) -> Gazetteer:
        common = _words("common_words") | {w.lower() for w in _words("common_extra")}
        return cls(
            _words("first_names"),
            _words("last_names"),
            common,
            _words("known_words"),
            _words("frequent_words"),
            _words("places"),
            _words("named_places"),
        )

    def is_common(self, word: str) -> bool:
        return word in NOT_NAMES or word.lower() in self.common

    def is_first(self, word: str) -> bool:
        return word in self.first and not self.is_common(word)

    def is_name(self, word: str) -> bool:
        """A listed first or last name (each part of a hyphenated one), not a common word."""
        if self.is_common(word):
            return False
        if word in self.first or word in self.last:
            return True
        parts = word.split("-")
        return len(parts) > 1 and all(p in self.first or p in self.last for p in parts)

    def is_unknown(self, word: str) -> bool:
        """Neither a known word of English or German nor a common word."""
        low = word.lower()
        return low not in self.known and not self.is_common(word) and len(word) > 1


def normal(word: str) -> str:
    """An all-caps word in title case ("ÖZTÜRK" -> "Öztürk"); any other word unchanged."""
    return word.title() if len(word) > 1 and word.isupper() else word


def is_german(text: str) -> bool:
    """Two of the first 80 words German hints or words with an umlaut. The hints are counted
    in one C-level pass and words are looked at one by one only where an umlaut occurs: this
    runs on every partner request, most of them English."""
    words = text.lower().split()[:80]
    hits = sum(map(DE_HINTS.__contains__, words))
    if hits < 2 and UMLAUT.search(" ".join(words)):
        hits += sum(1 for w in words if w not in DE_HINTS and not _UMLAUTS.isdisjoint(w))
    return hits >= 2


_UMLAUTS = frozenset("äöüß")
UMLAUT = re.compile("[äöüß]")
