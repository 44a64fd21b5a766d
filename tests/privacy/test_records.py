"""Pasted tables and JSON: a cell is personal because of its column, whatever its words."""

from __future__ import annotations

from corral.privacy.records import json_values, table_values, vcard_values


def cells(text: str) -> list[tuple[str, str]]:
    return [(s.label, s.text) for s in table_values(text)]


def test_a_table_without_personal_columns_gives_nothing() -> None:
    assert cells("sku;colour;price\nGX5591;Core Black;149.95\nGX5592;White;99.00") == []


def test_a_street_with_its_postcode_and_town_columns_is_one_address() -> None:
    table = "Vorname;Straße;PLZ;Ort\nMagdalena;Rosenstraße 8;93047;Regensburg"
    assert cells(table) == [
        ("PERSON", "Magdalena"),
        ("ADDRESS", "Rosenstraße 8;93047;Regensburg"),
    ]


def test_empty_and_null_cells_are_skipped_and_quotes_left_out() -> None:
    table = 'name,phone,dob\n"Ngozi Eze",null,\n"Min-jun Park",+82 10-4821-7730,1990-04-11'
    assert cells(table) == [
        ("PERSON", "Ngozi Eze"),
        ("PERSON", "Min-jun Park"),
        ("PHONE", "+82 10-4821-7730"),
        ("DOB", "1990-04-11"),
    ]


def test_a_line_of_another_width_ends_the_table() -> None:
    text = "first_name,last_name,city\nAoife,Brennan,Cork\nTotal, 1 person"
    assert cells(text) == [("PERSON", "Aoife"), ("PERSON", "Brennan")]


def test_json_string_values_are_read_by_their_key() -> None:
    record = '{"id": 5522, "Name": "Rojda Amed", "geburtsdatum": "2003-11-30", "tel": null}'
    found = [(s.label, s.text) for s in json_values(record)]
    assert found == [("PERSON", "Rojda Amed"), ("DOB", "2003-11-30")]


def test_a_vcards_name_nickname_address_and_birthday_are_read_by_their_property() -> None:
    card = (
        "BEGIN:VCARD\nVERSION:3.0\nFN:Phạm Ngọc Anh\nN:Phạm;Ngọc Anh;;;\nNICKNAME:Anhchen\n"
        "ADR;TYPE=HOME:;;Bornheimer Landstraße 55;Frankfurt am Main;;60316;Deutschland\n"
        "BDAY:1996-09-30\nEND:VCARD"
    )
    assert [(s.label, s.text) for s in vcard_values(card)] == [
        ("PERSON", "Phạm Ngọc Anh"),
        ("PERSON", "Phạm"),
        ("PERSON", "Ngọc Anh"),
        ("PERSON", "Anhchen"),
        ("ADDRESS", "Bornheimer Landstraße 55;Frankfurt am Main;;60316;Deutschland"),
        ("DOB", "1996-09-30"),
    ]
