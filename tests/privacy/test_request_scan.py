"""The request scan: recall first by default; `strict` also takes every long number."""

from __future__ import annotations

import itertools

from corral.privacy.detect import Detector
from corral.privacy.request_scan import detect

TEXT = "Customer no. 4482 9137 005, ticket 123456, since 2026-11-04, mail ann@example.org."


def test_strict_takes_every_run_of_seven_digits_and_dates_the_detector_left() -> None:
    default = detect(Detector(), [TEXT], strict=False, deadline=None)[0]
    strict = detect(Detector(), [TEXT], strict=True, deadline=None)[0]

    assert {s.text for s in default} <= {s.text for s in strict}
    extra = {(s.label, s.text) for s in strict} - {(s.label, s.text) for s in default}
    assert ("PHONE", "4482 9137 005") in extra
    assert ("DOB", "2026-11-04") in extra
    assert all(s.text != "123456" for s in strict)  # six digits: not a number that identifies
    assert [s.start for s in strict] == sorted(s.start for s in strict)
    assert all(a.end <= b.start for a, b in itertools.pairwise(strict))


def test_each_text_of_a_request_gets_its_own_spans() -> None:
    found = detect(Detector(), ["no personal data here", TEXT], strict=True, deadline=None)

    assert found[0] == []
    assert any(s.text == "ann@example.org" for s in found[1])
