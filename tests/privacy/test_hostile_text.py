"""Texts built to make pattern matching slow: each megabyte-sized one is scanned in linear
time (a second or so here; the bound is generous), and what the detector finds is unchanged."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import pytest

from corral.privacy.detect import DetectionTimeout, Detector

DETECTOR = Detector()
SIZE = 200_000
BOUND_S = 10.0
"""The quadratic patterns took 13 s on 48 KB of "Ab-" and hours on this size."""

HOSTILE: dict[str, Callable[[int], str]] = {
    "hyphenated capitals (street parts)": lambda n: "Ab-" * (n // 3),
    "an e-mail local part restarted at every %": lambda n: "a%" * (n // 2) + "@",
    "many e-mails (overlap tests)": lambda n: "x@y.de " * (n // 7),
    "dates and phones (blocker tests)": lambda n: ("01.02.2000 Tel 030 1234567 ") * (n // 27),
    "words without a newline (signature lines)": lambda n: "Ab " * (n // 3),
    "firm names (company ranges)": lambda n: "Smith, Jones and Brown " * (n // 23),
    "hyphenated streets with addresses": lambda n: (
        ("Ab-" * 5 + "Am Ring 5, 10115 Berlin ") * (n // 39)
    ),
    "digits and spaces": lambda n: "1 " * (n // 2),
    "thousands of distinct names (propagation)": lambda n: " ".join(
        f"met Zq{a}{b}{c}x today" for a, b, c in itertools.islice(_triples(), n // 20)
    ),
    "thousands of distinct e-mails (propagation)": lambda n: " ".join(
        f"zq{i}@example.org" for i in range(n // 18)
    ),
    "names before bracketed birth dates": lambda n: "Ab Cd Ef (geb. 1" * (n // 16),
    "timed, Telegram and IRC chat senders": lambda n: (
        "Ab Cd (12:30): x\nAb, [01.02.2024 10:00]\n12:00 <ab> x\n" * (n // 50)
    ),
    "street tails of districts and towns": lambda n: "12 Ab Street, Ab Cd, Ab\nAb " * (n // 27),
    "addresses led by a house or block number": lambda n: "House 4, Ab, Cd, Ef, Gh, " * (n // 25),
    "capitals beside numbers (folded)": lambda n: "ABC 1, ABCD 2 " * (n // 14),
    "nicknames and list items": lambda n: '\n1. Ab Cd Ef "Gh" Ij (Kl) Mn' * (n // 28),
    "answers after a birth question": lambda n: "dob?\nAb Cd: 01.02.2000\n" * (n // 22),
    "capitalised parts before a postcode": lambda n: "Ab Cd, Ef Gh\nIj, " * (n // 18) + "AB1 2CD",
    "surname-first list items": lambda n: "\n- Ab, Cd - " * (n // 12),
    "parts of a flat's address, no city": lambda n: "Flat 1, " + "near Ab, " * (n // 9),
    "clocked senders and mentions": lambda n: "Ab Cd 09:05: x @Ab Cd\n" * (n // 22),
    "dates followed by dates": lambda n: "01.02.1990 - " * (n // 13),
    "German streets of many words": lambda n: "Zur Ab Ab Ab Ab 4 " * (n // 18),
    "a table of many columns and rows": lambda n: (
        "name;phone;street;plz;ort;x;y\n" + "Ab Cd;+49 1;Ab 1;1;Ab;;\n" * (n // 24)
    ),
    "JSON objects and passenger names": lambda n: '{"name": "Ab", "AB/CD MR": 1} ' * (n // 30),
    "log accounts and initials": lambda n: "for ab from 1.2 A. Bc github.com/ab/ " * (n // 37),
    "address blocks under names": lambda n: "Ab Cd\nAm Ring 5\n" * (n // 16),
    "Indian and Brazilian address starts": lambda n: "No. 1, Ab Rua Ab, 1, " * (n // 21),
    "possessives, list items and contacts": lambda n: "1. Ab cd Ab's Ab: 0123456 " * (n // 26),
    "surname-first lines and named buildings": lambda n: (
        "Ab, Cd\nFlat 1, Ab Ab Ab House, Ab, Ab " * (n // 38)
    ),
    "card runs with trailing groups": lambda n: "1234 5678 9012 3456 7890 " * (n // 25),
    "display names and maiden names": lambda n: "Ab Cd Ef <a@b.c> geb. Ab " * (n // 26),
}


def _triples() -> itertools.product[tuple[str, ...]]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return itertools.product(letters, letters, letters)


@pytest.mark.parametrize("build", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_text_is_scanned_in_linear_time(build: Callable[[int], str]) -> None:
    text = build(SIZE)
    started = time.monotonic()

    DETECTOR.detect(text)

    assert time.monotonic() - started < BOUND_S


def test_long_hyphenated_street_names_are_still_addresses() -> None:
    text = "Wir wohnen in der Karl-Theodor-Maria-Straße 12, 80331 München."

    spans = [(s.label, s.text) for s in DETECTOR.detect(text)]

    assert ("ADDRESS", "Karl-Theodor-Maria-Straße 12, 80331 München") in spans


def test_a_name_repeated_in_a_long_text_of_many_names_is_found_everywhere() -> None:
    names = " ".join(f"met Zq{a}{b}x today" for a, b, _ in itertools.islice(_triples(), 9000))
    text = f"Dear Oluwaseun, {names}. Bye oluwaseun"

    people = [s.text for s in DETECTOR.detect(text) if s.label == "PERSON"]

    assert people[0] == "Oluwaseun" and people[-1] == "oluwaseun"


def test_many_values_are_all_found_and_never_overlap() -> None:
    text = "mail jane@example.org or call +49 30 1234567. " * 2000

    spans = DETECTOR.detect(text)

    assert [s.label for s in spans].count("EMAIL") == 2000
    assert [s.label for s in spans].count("PHONE") == 2000
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))


def test_a_detection_past_its_deadline_stops_with_an_error() -> None:
    with pytest.raises(DetectionTimeout):
        DETECTOR.detect("Anna Schmidt, anna@example.org " * 1000, deadline=time.monotonic())
