"""An organisation's own contact details are let through; a person's beside them are not
(issue 20: precision on letters, signatures and notices, where recall mode masked every
hotline and letterhead)."""

from __future__ import annotations

import pytest

from corral.privacy import Detector
from corral.privacy.organisations import is_role_mailbox, is_service_number, organisation_line

DETECTOR = Detector()


def found(text: str) -> set[tuple[str, str]]:
    return {(s.label, s.text) for s in DETECTOR.detect(text)}


def test_a_letterhead_goes_through_and_the_addressee_is_masked() -> None:
    letter = (
        "Homeshield Insurance Services Ltd\n"
        "Floor 6, 1 Lochrin Square, Edinburgh EH3 9QA\n"
        "Tel: 0131 496 0100\n"
        "\n"
        "Mr Callum Baird\n"
        "14 Ferry Road, Leith, Edinburgh EH6 4AE\n"
        "\n"
        "Dear Mr Baird,"
    )
    spans = found(letter)
    assert ("ADDRESS", "14 Ferry Road, Leith, Edinburgh EH6 4AE") in spans
    assert ("PERSON", "Callum Baird") in spans
    assert not any("Lochrin" in value or "0131" in value for _, value in spans)


def test_a_signature_keeps_the_persons_direct_line_masked() -> None:
    signature = (
        "Kind regards,\n"
        "Giulia Romano | Account Manager\n"
        "Brightpath Logistics Ltd\n"
        "T +44 20 7946 0321 | M +39 347 123 4567\n"
        "Switchboard: +44 20 7946 0000"
    )
    spans = found(signature)
    assert ("PHONE", "+44 20 7946 0321") in spans
    assert ("PHONE", "+39 347 123 4567") in spans
    assert ("PHONE", "+44 20 7946 0000") not in spans


@pytest.mark.parametrize(
    "text",
    [
        "Need to rearrange? Call us on 0333 202 9802 (Mon\u2013Fri 8am\u20138pm).",
        "Claims (24 hours): 0800 028 4455",
        "Questions? support@harveyapp.io or 1300 555 782",
        "Pls call Ranelagh Medical on 01 497 2211 to book.",
        "Für Rückfragen erreichen Sie uns unter 0800 336 71 00 (Mo\u2013Fr 8\u201318 Uhr).",
        "BKK Nordlicht\nPostfach 20 04 18, 24103 Kiel\nServicetelefon 0800 733 41 00",
        "From: Customer Care <care@skyfibre-support.co.uk>",
    ],
)
def test_hotlines_letterheads_and_role_mailboxes_are_no_ones(text: str) -> None:
    assert not any(label in ("PHONE", "EMAIL", "ADDRESS") for label, _ in found(text))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("ammi: and call Saima khala 0300 5127749", "0300 5127749"),  # a Pakistani mobile
        ("Suche Nachmieter, Kontakt 0341 2233445", "0341 2233445"),  # Leipzig, not UK 03
        ("my new number is 0345 600 2288, save it", "0345 600 2288"),
        ("Sie erreichen unsere Praxis unter 040 30 20 10-0.", "040 30 20 10-0"),
        ("Reach me at anna.kowalska@firma.pl or info@firma.pl", "anna.kowalska@firma.pl"),
        ("her number 98110 45672", "98110 45672"),
        ("tmr pick me up 7.45am. my hp 9678 2201", "9678 2201"),
    ],
)
def test_a_persons_own_number_or_mailbox_stays_masked(text: str, value: str) -> None:
    assert any(v == value for _, v in found(text))


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("Thank you for contacting Greenleaf Energy. We have applied your credit.", "Greenleaf"),
        ("Staff Nurse, St. Luke's Medical Center, Quezon City", "Luke"),
        ("From: Ogunleye & Daughters <arrangements@ogunleyefunerals.co.uk>", "Ogunleye"),
        ("Gesamtschule Am Lindenhof\nLindenhofweg 5, 44139 Dortmund", "Lindenhof"),
        ("We travel to Poland on Thursday, back on Monday.", "Poland"),
        ("President Macron met the chancellor in Paris on Tuesday.", "Paris"),
        ("Aishwarya Iyengar\nSenior Backend Engineer\nPune", "Engineer"),
        ("the suspect's car was parked on Dundas St near the bank", "Dundas"),
    ],
)
def test_firms_buildings_places_and_jobs_are_no_people(text: str, word: str) -> None:
    assert not any(label == "PERSON" and word in v for label, v in found(text))


def test_case_and_serial_numbers_are_not_phones() -> None:
    text = "Subject: RE: Case 00482193 - no connection\nSerial no.: 0412 8833 7721"
    assert not any(label == "PHONE" for label, _ in found(text))


def test_the_word_tests_read_as_their_names_say() -> None:
    assert is_role_mailbox("customer.services@severnsidewater.co.uk")
    assert not is_role_mailbox("gareth.pryce-jones@btinternet.com")
    assert is_service_number("0800 028 4455") and is_service_number("1-877-555-0166")
    assert not is_service_number("08431 12345")  # a Bavarian area code, not UK 0843
    assert organisation_line("Department of Cardiology")
    assert not organisation_line("The delivery went to")
