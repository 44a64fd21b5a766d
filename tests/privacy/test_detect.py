"""Detection per category and language, hard negatives, validators and corpus reproducibility."""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from corral.privacy.detect import Detector
from corral.privacy.patterns import card_valid, iban_valid, luhn_valid

ROOT = Path(__file__).resolve().parents[2]
DETECTOR = Detector()


def labels(text: str) -> list[tuple[str, str]]:
    return [(s.label, s.text) for s in DETECTOR.detect(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mail me at jane.doe@example.com please", ("EMAIL", "jane.doe@example.com")),
        ("Schreib an m.mueller@web.de bitte", ("EMAIL", "m.mueller@web.de")),
        ("Call me at (555)123-4567 tonight", ("PHONE", "(555)123-4567")),
        ("Call +1-555-123-4567x123 now", ("PHONE", "+1-555-123-4567x123")),
        ("Telefon: +49(0)30 1234567", ("PHONE", "+49(0)30 1234567")),
        ("Erreichbar unter 0171 2345678.", ("PHONE", "0171 2345678")),
        ("IBAN DE89 3704 0044 0532 0130 00, danke", ("IBAN", "DE89 3704 0044 0532 0130 00")),
        ("Pay to GB82WEST12345698765432 today", ("IBAN", "GB82WEST12345698765432")),
        ("card 4111 1111 1111 1111 exp 01/29", ("CARD", "4111 1111 1111 1111")),
        ("Karte 5555-5555-5555-4444 belastet", ("CARD", "5555-5555-5555-4444")),
        ("login from 192.168.10.254 failed", ("IP", "192.168.10.254")),
        ("Anmeldung von 2001:db8::8a2e:370:7334 gesperrt", ("IP", "2001:db8::8a2e:370:7334")),
        ("I was born on March 5, 1987 in Ohio", ("DOB", "March 5, 1987")),
        ("Geburtsdatum: 05.03.1987", ("DOB", "05.03.1987")),
        ("Ich bin am 5. März 1987 geboren", ("DOB", "5. März 1987")),
        (
            "Send it to 12 Oak Street Apt. 4, Springfield, IL 62704.",
            ("ADDRESS", "12 Oak Street Apt. 4, Springfield, IL 62704"),
        ),
        (
            "Neue Anschrift: Lindenstraße 5, 10115 Berlin.",
            ("ADDRESS", "Lindenstraße 5, 10115 Berlin"),
        ),
        ("My name is John Smith and I need help.", ("PERSON", "John Smith")),
        ("Guten Tag Frau Schulze, wie besprochen", ("PERSON", "Schulze")),
        ("Habe heute Jürgen Hoffmann getroffen.", ("PERSON", "Jürgen Hoffmann")),
    ],
)
def test_detects_each_category(text: str, expected: tuple[str, str]) -> None:
    assert expected in labels(text)


@pytest.mark.parametrize(
    "text",
    [
        "Order #48213977 shipped on 2025-03-04, total $1,234.56.",
        "Bestellung 4839201746 wurde am 12.03.2025 versandt, Summe 1.299,00 €.",
        "Tracking number: 4532015112830367",  # Luhn-valid, but introduced as a tracking number
        "Reference DE89370400440532013001 was rejected.",  # bad IBAN checksum
        "Order 4111 1111 1111 1112 was declined.",  # bad Luhn, and not called a card
        "We upgraded to version 2.14.3 at 10:30:45.",
        "The Annual Cloud Summit in Springfield starts on March 5, 2026.",
        "Die Konferenz Zukunft Energiewende in Berlin beginnt am 05.03.2026.",
        "Apple, Amazon and Google announced new products.",
        "Invoice from Walker, Reyes and Cain: $12.00",
        "Dial-in code 089 741 952 for room B204.",
    ],
)
def test_hard_negatives(text: str) -> None:
    assert labels(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Karte: 4921 8830 1274 5509 (Visa)", ("CARD", "4921 8830 1274 5509")),
        ("SEPA - IBAN: DE27 5205 0353 0001 2345 67", ("IBAN", "DE27 5205 0353 0001 2345 67")),
    ],
)
def test_a_mistyped_card_or_iban_called_one_is_still_masked(
    text: str, expected: tuple[str, str]
) -> None:
    assert labels(text) == [expected]  # its checksum fails, yet it is someone's account


def test_validators() -> None:
    assert iban_valid("DE89370400440532013000")
    assert not iban_valid("DE88370400440532013000")
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert card_valid("378282246310005")  # Amex
    assert not card_valid("4111111111111")  # Luhn fails
    assert not card_valid("9111111111111111")  # no such issuer


def _corpus_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_privacy_corpus", ROOT / "scripts" / "make_privacy_corpus.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("lang", ["en", "de"])
def test_corpus_matches_its_generator(lang: str) -> None:
    script = _corpus_script()
    lines = (ROOT / "corpus" / "privacy" / f"{lang}.jsonl").read_text("utf-8").splitlines()
    assert len(lines) >= 1000
    for index in [*range(0, 1000, 37), 999]:
        assert json.loads(lines[index]) == script.generate(lang, index)


def test_corpus_spans_point_at_values() -> None:
    text = (ROOT / "corpus" / "privacy" / "de.jsonl").read_text("utf-8")
    rows = [json.loads(line) for line in text.splitlines()]
    for row in rows[:200]:
        for span in row["spans"]:
            value = row["text"][span["start"] : span["end"]]
            assert value and value == value.strip()


ARABIC_PHONE = "0171 2345678".translate(
    str.maketrans("0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669")
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Please post it to Flat B, Oak Street, Leeds", ("ADDRESS", "Flat B, Oak Street")),
        ("Name\uff1aAnna Schmidt", ("PERSON", "Anna Schmidt")),  # a full-width colon
        ("ping @lena_k about it", ("PERSON", "lena_k")),
        ("Best regards\nMarta Kowalska", ("PERSON", "Marta Kowalska")),
        ("Mutter *12.05.1948 in Köln", ("DOB", "12.05.1948")),
        (f"call me on {ARABIC_PHONE} tonight", ("PHONE", ARABIC_PHONE)),
    ],
)
def test_a_finder_skipped_for_lack_of_its_mark_still_runs_where_the_mark_is(
    text: str, expected: tuple[str, str]
) -> None:
    """Short prompts skip the finders whose mark they lack (a digit, a colon, a line break, an
    "@", a "*"); a flat without a house number, a full-width colon, or Arabic-Indic digits
    still have theirs."""
    assert expected in labels(text)


def test_a_detector_reads_its_name_lists_only_when_it_first_looks() -> None:
    # A server builds one at start even when it serves no partner model: it must not pay the
    # name lists' memory until some text is checked.
    detector = Detector()
    assert "gazetteer" not in vars(detector)
    assert [s.label for s in detector.detect("Ask Johanna Berger about it")] == ["PERSON"]
    assert "gazetteer" in vars(detector)


def test_no_two_spans_overlap_on_any_hand_written_text() -> None:
    """The placeholders replace spans one after another: two that overlapped would garble the
    text sent to a partner."""
    folder = Path(__file__).resolve().parents[2] / "corpus" / "privacy" / "handwritten"
    texts = [
        json.loads(line)["text"]
        for lang in ("en", "de")
        for line in (folder / f"{lang}.jsonl").read_text("utf-8").splitlines()
    ]
    for text in texts:
        spans = DETECTOR.detect(text)
        assert all(a.end <= b.start for a, b in itertools.pairwise(spans)), text
