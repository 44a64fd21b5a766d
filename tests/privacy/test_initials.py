"""Initials that stand for people in meeting notes: defined after a name, owners after an
arrow, a note's first words before a verb, and found again wherever the request writes them;
a team's acronyms stay as they are."""

from __future__ import annotations

from corral.privacy import Detector
from corral.privacy.initials import find_initials

NOTES = (
    "Protokoll Teamrunde 14.05.2024\n"
    "Anwesend: Jana Krüger (JK), Murat Demir (MD), Piotr Wiśniewski (PW)\n"
    "TOP 1 Serverumzug: MD klärt Termin mit der IT bis 21.05.\n"
    "TOP 2 Urlaubsplanung: Freigabe durch JK\n"
    "Kaffeemaschine kaputt → JK/PW"
)


def initials(text: str) -> list[str]:
    return [s.text for s in find_initials(text)]


def test_initials_defined_after_a_name_and_every_later_mention_are_masked() -> None:
    spans = Detector().detect(NOTES)
    masked = [s.text for s in spans if s.label == "PERSON" and len(s.text) == 2]

    assert masked.count("JK") == 3 and masked.count("MD") == 2 and masked.count("PW") == 2
    assert "IT" not in masked and "TOP" not in [s.text for s in spans]


def test_owners_of_a_note_line_are_found_by_their_place() -> None:
    notes = (
        "standing mtg wed\n- JB said the Harlow site is slipping 2 wks\n"
        "- TM off next week, cover = JB\n- SR to draft the onboarding doc\n"
        "- Budget slide: FA + RK\n- Vendor renewal -> MO'D"
    )
    assert sorted(initials(notes)) == ["FA", "JB", "JB", "MO'D", "RK", "SR", "TM"]


def test_acronyms_and_date_formats_are_not_initials() -> None:
    text = (
        "- IT to reset the printer\n- HR said the policy changed\n- AOB: none\n"
        "Date of birth (DD/MM/YYYY): __ / __ / ____\nDPD update: parcel delayed\n"
        "FIT & FUN Studio Graz"
    )
    assert initials(text) == []


def test_a_name_in_brackets_that_are_not_its_initials_is_left() -> None:
    assert initials("Meeting with Jana Krüger (HR) and Tom Lee (CFO)") == []


def test_initials_joined_to_a_name_by_a_plus_are_an_owner() -> None:
    assert initials("- Fahrradkeller entrümpeln → Hùng + SL, bis Ende März") == ["SL"]
