"""Records pasted as data: a delimited table under a header row (CSV, semicolons, tabs), the
string values of JSON objects and the properties of vCards (contacts exported from a phone). A
value is personal because of its column, key or property ("last_name", "Geburtsdatum", "tel",
"BDAY"), whatever its words: "Park" in a `last_name` column is a name, "1990-04-11" in a
`date_of_birth` column a birth date."""

from __future__ import annotations

import re

from corral.privacy.patterns import Span

_KEYS = {
    "PERSON": (
        "name full_name fullname first_name firstname given_name given_names forename last_name"
        " lastname surname family_name middle_name display_name contact contact_name customer"
        " customer_name client passenger patient employee account_holder cardholder vorname"
        " nachname familienname rufname kunde kundin kundenname ansprechpartner kontakt"
        " kontoinhaber inhaber mitarbeiter mitarbeiterin patientin empfänger absender"
    ),
    "PHONE": (
        "phone phone_number telephone tel mobile mobile_phone cell cellphone fax whatsapp"
        " telefon telefonnummer tel_nr mobil mobilnummer handy"
    ),
    "DOB": (
        "dob d_o_b date_of_birth birth_date birthdate birthday born geburtsdatum geb_datum geboren"
        " geburtstag"
    ),
    "ADDRESS": (
        "address street street_address address_line_1 address1 adresse anschrift straße"
        " strasse str strasse_nr straße_nr"
    ),
}
LABEL_OF = {key: label for label, keys in _KEYS.items() for key in keys.split()}
TOWN_KEYS = frozenset(
    (
        *("zip", "zip_code", "zipcode", "postcode", "postal_code", "plz", "postleitzahl"),
        *("city", "town", "ort", "stadt", "wohnort"),
    )
)
DELIMITERS = (",", ";", "\t")
JSON_PAIR = re.compile(r'"(?P<key>[^"\\\n]{1,40})"\s*:\s*"(?P<value>[^"\\\n]{1,200})"')
NOT_VALUES = frozenset({"", "null", "none", "n/a", "-", "—"})


def _key(field: str) -> str:
    return re.sub(r"[\s.-]+", "_", field.strip().strip("\"'").lower())


def table_values(text: str) -> list[Span]:
    """The personal cells of every delimited table with a header row naming such columns."""
    found: list[Span] = []
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    row = 0
    while row < len(lines):
        delimiter, labels = _header(lines[row])
        if delimiter is None:
            row += 1
            continue
        width = lines[row].count(delimiter)
        row += 1
        while row < len(lines) and lines[row].count(delimiter) == width:
            found += _cells(text, starts[row], lines[row], delimiter, labels)
            row += 1
    return found


def _header(line: str) -> tuple[str | None, list[str | None]]:
    """The delimiter of a header line and each column's label (None: not personal, "TOWN": a
    postcode or town that continues an address); (None, []) for no header."""
    for delimiter in DELIMITERS:
        fields = line.split(delimiter)
        if len(fields) < 3:
            continue
        keys = [_key(f) for f in fields]
        labels = [LABEL_OF.get(k) or ("TOWN" if k in TOWN_KEYS else None) for k in keys]
        if any(label not in (None, "TOWN") for label in labels):
            return delimiter, labels
    return None, []


def _cells(
    text: str, start: int, line: str, delimiter: str, labels: list[str | None]
) -> list[Span]:
    spans: list[Span] = []
    pos = start
    for field, label in zip(line.split(delimiter), labels, strict=False):
        value = field.strip().strip("\"'")
        begin = pos + field.find(value) if value else pos
        end = begin + len(value)
        pos += len(field) + 1
        if label is None or value.lower() in NOT_VALUES:
            continue
        if label == "TOWN":  # a postcode or town right after an address cell joins it
            last = spans[-1] if spans else None
            if last is not None and last.label == "ADDRESS" and begin - last.end <= 2:
                spans[-1] = Span(last.start, end, "ADDRESS", text[last.start : end])
            continue
        spans.append(Span(begin, end, label, value))
    return spans


def json_values(text: str) -> list[Span]:
    """String values of JSON keys that name personal data ("name", "geburtsdatum", "tel")."""
    found = []
    for m in JSON_PAIR.finditer(text):
        label = LABEL_OF.get(_key(m.group("key")))
        value = m.group("value").strip()
        if label is not None and value.lower() not in NOT_VALUES:
            found.append(Span(m.start("value"), m.end("value"), label, m.group("value")))
    return found


# A vCard property: "FN:Phạm Ngọc Anh", "ADR;TYPE=HOME:;;Bornheimer Landstraße 55;Frankfurt".
VCARD_LINE = re.compile(r"(?im)^(?P<key>FN|N|NICKNAME|ADR|BDAY)(?:;[^:\n]*)?:(?P<value>[^\n]+)$")
VCARD_LABELS = {
    "FN": "PERSON",
    "N": "PERSON",
    "NICKNAME": "PERSON",
    "ADR": "ADDRESS",
    "BDAY": "DOB",
}


def vcard_values(text: str) -> list[Span]:
    """Names, nicknames, addresses and birthdays of vCards: the name's parts one by one (its
    ";"-separated fields), the address from its first filled field to its last."""
    found = []
    for m in VCARD_LINE.finditer(text):
        key, start, value = m.group("key").upper(), m.start("value"), m.group("value").rstrip()
        label = VCARD_LABELS[key]
        if key == "N":
            for part in re.finditer(r"[^;]+", value):
                if part.group(0).strip():
                    found.append(
                        Span(start + part.start(), start + part.end(), label, part.group(0))
                    )
            continue
        lead = len(value) - len(value.lstrip("; "))
        value = value.strip("; ")
        if value:
            found.append(Span(start + lead, start + lead + len(value), label, value))
    return found
