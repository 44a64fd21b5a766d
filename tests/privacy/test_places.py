"""A town whose name is a person's name too is a place only where a place stands (issue 20:
"in Kingston", "Ikeja, Lagos"), and a person everywhere else."""

from __future__ import annotations

import pytest

from corral.privacy import Detector

DETECTOR = Detector()


def found(text: str) -> set[tuple[str, str]]:
    return {(s.label, s.text) for s in DETECTOR.detect(text)}


@pytest.mark.parametrize(
    ("text", "town"),
    [
        ("We moved to a flat in Kingston last year.", "Kingston"),
        ("use the house, 14 Adeniyi Jones Avenue, Ikeja, Lagos", "Lagos"),
        ("Block C, Grand Canal Quay, Dublin 2, D02 X576, Ireland", "Ireland"),
    ],
)
def test_a_town_where_a_place_stands_is_no_person(text: str, town: str) -> None:
    assert not any(label == "PERSON" and town in value for label, value in found(text))


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Text me on 433.327.9016 when you land, Bradley.", "Bradley"),
        ("Schreib mir auf +49 (0) 4694 530354, wenn du gelandet bist, Victoria.", "Victoria"),
        ("Jordan is bringing the cake to 12 Elm Road", "Jordan"),
    ],
)
def test_a_name_that_is_a_town_too_is_a_person_outside_an_address(text: str, name: str) -> None:
    assert ("PERSON", name) in found(text)
