"""Stop sequences and UTF-8 reassembly over token-sized pieces."""

from __future__ import annotations

from corral.backends.llama_cpp.decoding import StopMatcher, Utf8Assembler


def feed_all(matcher: StopMatcher, pieces: list[str]) -> str:
    out = ""
    for piece in pieces:
        out += matcher.feed(piece)
        if matcher.stopped:
            return out
    return out + matcher.flush()


def test_stop_split_across_pieces_is_never_emitted() -> None:
    matcher = StopMatcher(("END",))

    text = feed_all(matcher, ["The story ", "E", "N", "D of it"])

    assert text == "The story "
    assert matcher.stopped


def test_false_start_of_a_stop_is_released() -> None:
    matcher = StopMatcher(("END",))

    text = feed_all(matcher, ["an E", "Ngine", " runs"])

    assert text == "an ENgine runs"
    assert not matcher.stopped


def test_earliest_of_several_stops_wins() -> None:
    matcher = StopMatcher(("world", "lo"))

    assert feed_all(matcher, ["hello world"]) == "hel"


def test_no_stops_passes_text_through() -> None:
    matcher = StopMatcher(())

    assert matcher.feed("abc") == "abc"
    assert matcher.flush() == ""


def test_multibyte_character_split_across_tokens() -> None:
    assembler = Utf8Assembler()
    euro = "€".encode()

    parts = [assembler.feed(euro[:1]), assembler.feed(euro[1:2]), assembler.feed(euro[2:] + b"!")]

    assert parts == ["", "", "€!"]
    assert assembler.flush() == ""


def test_truncated_character_at_the_end_becomes_a_replacement() -> None:
    assembler = Utf8Assembler()

    assert assembler.feed("ü".encode()[:1]) == ""
    assert assembler.flush() == "\ufffd"
