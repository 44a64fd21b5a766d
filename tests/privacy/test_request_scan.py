"""The request scan: the detector's recall mode by default, its strict mode for
`pseudonymize_strict`; the texts of one call are scanned together."""

from __future__ import annotations

import itertools

from corral.privacy.detect import Detector
from corral.privacy.request_scan import detect

TEXT = "Customer no. 4482 9137 005, ticket 123456, since 2026-11-04, mail ann@example.org."


def test_strict_takes_every_run_of_seven_digits_and_dates() -> None:
    detector = Detector()
    default = detect(detector, [TEXT], strict=False, deadline=None)[0]
    strict = detect(detector, [TEXT], strict=True, deadline=None)[0]

    assert {s.text for s in default} <= {s.text for s in strict}
    extra = {s.text for s in strict} - {s.text for s in default}
    assert {"4482 9137 005", "2026-11-04"} <= extra
    assert all(s.text != "123456" for s in strict)  # six digits: not a number that identifies
    assert [s.start for s in strict] == sorted(s.start for s in strict)
    assert all(a.end <= b.start for a, b in itertools.pairwise(strict))


def test_a_value_found_in_one_text_is_found_in_every_text_of_the_call() -> None:
    texts = ["Dear Ms Agnieszka Wróblewska, thanks.", "Agnieszka, the form is ready."]

    found = detect(Detector(), texts, strict=False, deadline=None)

    assert any(s.label == "PERSON" and "Agnieszka" in s.text for s in found[1])


def test_each_text_of_a_request_gets_its_own_spans() -> None:
    found = detect(Detector(), ["no personal data here", TEXT], strict=True, deadline=None)

    assert found[0] == []
    assert any(s.text == "ann@example.org" for s in found[1])
