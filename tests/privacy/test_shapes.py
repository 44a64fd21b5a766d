"""Names by their shape: each needs its mark, and a label's line is never taken for a name."""

from __future__ import annotations

from corral.privacy.address import find_addresses
from corral.privacy.gazetteer import Gazetteer
from corral.privacy.patterns import Span
from corral.privacy.shapes import address_names, find_shapes

GAZ = Gazetteer.default()


def names(spans: list[Span]) -> list[str]:
    return [s.text for s in spans]


def test_a_text_without_any_shapes_mark_gives_nothing() -> None:
    assert find_shapes("Summarise the feed for me in three short points please", GAZ) == []


def test_passengers_accounts_and_display_names_are_found_by_shape() -> None:
    text = (
        "1. SANTOS/MARIA FERNANDA MS\n"
        "Accepted publickey for rkapoor from 2001:db8::17\n"
        "Hope Whitaker <hope.w@gmail.com> wrote:"
    )
    assert {"SANTOS/MARIA FERNANDA", "rkapoor", "Hope Whitaker"} <= set(
        names(find_shapes(text, GAZ))
    )


def test_the_line_above_an_address_is_its_owner_unless_it_is_a_field() -> None:
    block = "Yuki Nakamura-Schmidt\nGoethestr. 14\n99423 Weimar"
    field = "Empfänger: Rosalind Achterberg\nZum Sportplatz 9, 26121 Oldenburg"
    assert names(address_names(block, find_addresses(block), GAZ)) == ["Yuki Nakamura-Schmidt"]
    assert address_names(field, find_addresses(field), GAZ) == []
