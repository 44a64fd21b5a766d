"""Placeholders consistent across messages, restore of whole and streamed answers."""

from __future__ import annotations

from corral.privacy.pseudonymize import Pseudonymizer, StreamRestorer

P = Pseudonymizer()
MESSAGES = [
    "Hi, my name is John Smith, mail john.smith@example.com.",
    "John Smith again: card 4111 1111 1111 1111, Frau Schulze has IBAN DE89370400440532013000.",
]


def test_placeholders_consistent_across_messages() -> None:
    masked = P.mask(MESSAGES)
    assert "John Smith" not in "".join(masked.texts)
    assert "[PERSON_1]" in masked.texts[0] and "[PERSON_1]" in masked.texts[1]
    assert masked.mapping["[PERSON_1]"] == "John Smith"
    assert masked.mapping["[EMAIL_1]"] == "john.smith@example.com"
    assert {"[CARD_1]", "[IBAN_1]", "[PERSON_2]"} <= set(masked.mapping)
    assert masked.counts == {"PERSON": 3, "EMAIL": 1, "CARD": 1, "IBAN": 1}
    assert [masked.restore(t) for t in masked.texts] == MESSAGES


def test_mapping_belongs_to_one_call() -> None:
    first = P.mask(["Mail jane@example.com"])
    second = P.mask(["Mail bob@example.org"])
    assert first.mapping == {"[EMAIL_1]": "jane@example.com"}
    assert second.mapping == {"[EMAIL_1]": "bob@example.org"}
    assert first.mapping is not second.mapping
    assert first.restore("[EMAIL_1]") == "jane@example.com"


def test_placeholder_already_in_text_is_not_reused() -> None:
    masked = P.mask(["Literal [EMAIL_1] and real jane@example.com"])
    assert masked.texts[0] == "Literal [EMAIL_1] and real [EMAIL_2]"


def test_unknown_placeholders_left_alone() -> None:
    masked = P.mask(["Mail jane@example.com"])
    assert masked.restore("[PERSON_9] wrote to [EMAIL_1]") == "[PERSON_9] wrote to jane@example.com"


def test_stream_split_at_every_position() -> None:
    masked = P.mask(MESSAGES)
    answer = "Dear [PERSON_1], we wrote to [EMAIL_1] and [PERSON_2]. Brackets [x] stay [PERSON_"
    expected = masked.restore(answer)
    for cut in range(len(answer) + 1):
        for cut2 in range(cut, len(answer) + 1, 7):
            r = StreamRestorer(masked.mapping)
            out = (
                r.feed(answer[:cut]) + r.feed(answer[cut:cut2]) + r.feed(answer[cut2:]) + r.flush()
            )
            assert out == expected, (cut, cut2)


def test_stream_one_character_at_a_time() -> None:
    masked = P.mask(MESSAGES)
    answer = "[PERSON_1][EMAIL_1]x[CARD_1]"
    r = StreamRestorer(masked.mapping)
    out = "".join(r.feed(ch) for ch in answer) + r.flush()
    assert out == masked.restore(answer)
    assert "John Smith" in out and "4111 1111 1111 1111" in out
