"""Generate the labelled privacy corpus (English and German) reproducibly.

Every text is built from a seed of its own (language and index), so any subset can be
regenerated and compared with the committed files. Values come from Faker (en_US, de_DE);
sentences come from the templates below, which include hard negatives: numbers that are not
cards or IBANs, capitalised words that are not names, dates that are not birth dates.

    .venv/bin/python scripts/make_privacy_corpus.py          # writes corpus/privacy/{en,de}.jsonl
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import ipaddress
import json
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from faker import Faker

_BORN_FROM, _BORN_UNTIL = dt.date(1936, 1, 1), dt.date(2008, 1, 1)  # aged 18 to 90 in 2026
_EVENTS_FROM, _EVENTS_UNTIL = dt.date(2024, 1, 1), dt.date(2027, 1, 1)

OUT_DIR = Path(__file__).resolve().parent.parent / "corpus" / "privacy"
COUNT = 1000
LANG_SEED = {"en": 11, "de": 29}
SLOT = re.compile(r"\{([A-Z_0-9]+)\}")
LABELS = {"PERSON", "FIRST", "LAST", "EMAIL", "PHONE", "IBAN", "CARD", "IP", "IP6"}
LABELS |= {"ADDRESS", "ADDRESS_NL", "STREET", "DOB"}

EN: dict[str, list[str]] = {
    "greet": [
        "Hi {FIRST},",
        "Dear {TITLE} {LAST},",
        "Hello {PERSON},",
        "Dear {PERSON},",
        "Hey team,",
        "Good morning,",
        "Hi all,",
    ],
    "body": [
        "My name is {PERSON} and I need help with my account.",
        "You can reach me at {EMAIL} or call {PHONE}.",
        "Please send the invoice to {ADDRESS}.",
        "I was born on {DOB}, in case you need it for verification.",
        "Date of birth: {DOB}",
        "Wire the refund to IBAN {IBAN}, account holder {PERSON}.",
        "I paid with card {CARD}, expiry {EXP}.",
        "Our server at {IP} keeps rejecting logins from {IP6}.",
        "{PERSON} said the meeting moves to {DATE}.",
        "Can you forward this to {PERSON} ({EMAIL})?",
        "New address: {ADDRESS}. Phone {PHONE}.",
        "Ping {FIRST} about the draft before Friday.",
        "{TITLE} {LAST} will join the call at {TIME}.",
        "Shipping to:\n{ADDRESS_NL}",
        "Patient: {PERSON}, DOB {DOB}, phone {PHONE}",
        "Just met {PERSON} at the {CITY} meetup, great talk!",
        "Lost my wallet near {STREET}. If found please call {PHONE}.",
        "Happy birthday to my sister {FIRST}! Born {DOB} and still the best.",
        "The login from {IP} was flagged, user {EMAIL}.",
        "Card number {CARD} was charged twice, please refund to {IBAN}.",
        "{FIRST} and {FIRST} are moving to {ADDRESS} next month.",
        "Text me on {PHONE} when you land, {FIRST}.",
    ],
    "neg": [
        "Order {ORDER} shipped on {DATE}, total {AMOUNT}.",
        "We upgraded to version {VERSION} and latency dropped to {NUM} ms.",
        "The {CAPWORD} {CAPWORD} conference in {CITY} starts on {DATE}.",
        "Reference {BADIBAN} was rejected by the bank.",
        "Tracking number: {LONGNUM}",
        "Meeting room {ROOM} at {TIME}, dial-in code {CODE}.",
        "{COMPANY} reported revenue of {AMOUNT} for {YEAR}.",
        "Apple, Amazon and Google announced new products on {DATE}.",
        "The deadline for the {CAPWORD} report is {DATE}.",
        "Invoice {ORDER} from {COMPANY}: {AMOUNT}, due {DATE}.",
        "Summer Sale: {NUM}% off everything in {CITY} until {DATE}!",
    ],
    "sign": [
        "Best,\n{PERSON}",
        "Thanks,\n{FIRST}",
        "Cheers, {FIRST}",
        "Kind regards,\n{PERSON}\n{PHONE}",
        "Regards,\n{TITLE} {PERSON}",
    ],
}
EN_TITLES = ["Mr.", "Mrs.", "Ms.", "Dr.", "Mr", "Ms", "Prof."]

DE: dict[str, list[str]] = {
    "greet": [
        "Hallo {FIRST},",
        "Sehr geehrte/r {TITLE} {LAST},",
        "Liebe/r {PERSON},",
        "Guten Tag {TITLE} {PERSON},",
        "Hallo zusammen,",
        "Moin,",
        "Servus {FIRST},",
    ],
    "body": [
        "Mein Name ist {PERSON} und ich habe eine Frage zu meinem Vertrag.",
        "Sie erreichen mich unter {EMAIL} oder telefonisch unter {PHONE}.",
        "Bitte schicken Sie die Rechnung an {ADDRESS}.",
        "Ich bin am {DOB} geboren, falls Sie das zur Prüfung brauchen.",
        "Geburtsdatum: {DOB}",
        "Bitte überweisen Sie den Betrag auf IBAN {IBAN}, Kontoinhaber {PERSON}.",
        "Ich habe mit der Karte {CARD} bezahlt, gültig bis {EXP}.",
        "Unser Server {IP} blockiert Anmeldungen von {IP6}.",
        "{PERSON} hat das Treffen auf den {DATE} verschoben.",
        "Kannst du das an {PERSON} ({EMAIL}) weiterleiten?",
        "Neue Anschrift: {ADDRESS}. Telefon {PHONE}.",
        "Frag bitte {FIRST} wegen des Entwurfs vor Freitag.",
        "{TITLE} {LAST} kommt um {TIME} dazu.",
        "Lieferadresse:\n{ADDRESS_NL}",
        "Patient: {PERSON}, geb. {DOB}, Tel. {PHONE}",
        "Habe heute {PERSON} beim Treffen in {CITY} kennengelernt, toller Vortrag!",
        "Geldbörse in der {STREET} verloren. Finder bitte {PHONE} anrufen.",
        "Alles Gute zum Geburtstag, {FIRST}! Geboren am {DOB} und immer noch die Beste.",
        "Die Anmeldung von {IP} wurde gesperrt, Benutzer {EMAIL}.",
        "Die Karte {CARD} wurde doppelt belastet, bitte auf {IBAN} erstatten.",
        "{FIRST} und {FIRST} ziehen nächsten Monat in die {ADDRESS}.",
        "Schreib mir auf {PHONE}, wenn du gelandet bist, {FIRST}.",
    ],
    "neg": [
        "Bestellung {ORDER} wurde am {DATE} versandt, Summe {AMOUNT}.",
        "Wir haben auf Version {VERSION} aktualisiert, die Latenz sank auf {NUM} ms.",
        "Die Konferenz {CAPWORD} {CAPWORD} in {CITY} beginnt am {DATE}.",
        "Die Referenz {BADIBAN} wurde von der Bank abgelehnt.",
        "Sendungsnummer: {LONGNUM}",
        "Besprechungsraum {ROOM} um {TIME}, Einwahlcode {CODE}.",
        "{COMPANY} meldet für {YEAR} einen Umsatz von {AMOUNT}.",
        "Die Frist für den Bericht zur {CAPWORD} endet am {DATE}.",
        "Rechnung {ORDER} von {COMPANY}: {AMOUNT}, fällig am {DATE}.",
        "Sommerschlussverkauf: {NUM} Prozent Rabatt in {CITY} bis zum {DATE}!",
        "Kundennummer {LONGNUM}, Vorgang vom {DATE}.",
    ],
    "sign": [
        "Viele Grüße\n{PERSON}",
        "Danke,\n{FIRST}",
        "LG {FIRST}",
        "Mit freundlichen Grüßen\n{PERSON}\n{PHONE}",
        "Beste Grüße,\n{TITLE} {PERSON}",
    ],
}
DE_TITLES = ["Herr", "Frau", "Dr.", "Herr Dr.", "Frau Prof."]
EN_CAPWORDS = ["Annual", "Future", "Cloud", "Summit", "Quarterly", "Design", "Growth", "Data"]
DE_CAPWORDS = ["Zukunft", "Digitalisierung", "Energiewende", "Nachhaltigkeit", "Messe", "Technik"]
EN_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
DE_MONTHS = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
]


class Gen:
    """Value generators for one text: a seeded Faker and a seeded random source."""

    def __init__(self, lang: str, fake: Faker, rng: random.Random) -> None:
        self.lang, self.fake, self.rng = lang, fake, rng

    def first(self) -> str:
        return str(self.fake.first_name())

    def last(self) -> str:
        name = str(self.fake.last_name())
        if self.lang == "de" and self.rng.random() < 0.1:
            name += "-" + str(self.fake.last_name())
        return name

    def person(self) -> str:
        return f"{self.first()} {self.last()}"

    def email(self) -> str:
        if self.rng.random() < 0.5:
            return str(self.fake.email())
        user = f"{self.first()}.{self.last()}".lower().replace(" ", "")
        return f"{user}@{self.fake.free_email_domain()}"

    def iban(self) -> str:
        raw = str(self.fake.iban())
        if self.rng.random() < 0.5:
            return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))
        return raw

    def card(self) -> str:
        raw = str(self.fake.credit_card_number())
        style = self.rng.random()
        if style < 0.4:
            return raw
        sep = " " if style < 0.8 else "-"
        return sep.join(raw[i : i + 4] for i in range(0, len(raw), 4))

    def ip6(self) -> str:
        addr = str(self.fake.ipv6())
        return ipaddress.IPv6Address(addr).compressed if self.rng.random() < 0.5 else addr

    def street(self) -> str:
        return str(self.fake.street_address())

    def address(self, sep: str = ", ") -> str:
        f = self.fake
        if self.lang == "en":
            return f"{f.street_address()}{sep}{f.city()}, {f.state_abbr()} {f.postcode()}"
        return f"{f.street_address()}{sep}{f.postcode()} {f.city()}"

    def date(self, birth: bool) -> str:
        # Fixed dates, not "now"-relative ones (Faker's defaults), so the corpus regenerates
        # the same on any day.
        if birth:
            d = self.fake.date_between(start_date=_BORN_FROM, end_date=_BORN_UNTIL)
        else:
            d = self.fake.date_between(start_date=_EVENTS_FROM, end_date=_EVENTS_UNTIL)
        style = self.rng.randrange(4)
        if self.lang == "en":
            forms = [
                f"{d:%m/%d/%Y}",
                f"{d:%Y-%m-%d}",
                f"{EN_MONTHS[d.month - 1]} {d.day}, {d.year}",
                f"{d.day} {EN_MONTHS[d.month - 1]} {d.year}",
            ]
        else:
            forms = [
                f"{d:%d.%m.%Y}",
                f"{d:%Y-%m-%d}",
                f"{d.day}. {DE_MONTHS[d.month - 1]} {d.year}",
                f"{d.day}.{d.month}.{d.year}",
            ]
        return forms[style]

    def digits(self, n: int) -> str:
        return "".join(str(self.rng.randrange(10)) for _ in range(n))

    def bad_iban(self) -> str:
        raw = str(self.fake.iban())
        check = (int(raw[2:4]) + 1 + self.rng.randrange(97)) % 97
        check = check if check != int(raw[2:4]) else (check + 1) % 97
        return f"{raw[:2]}{check:02d}{raw[4:]}"

    def amount(self) -> str:
        value = self.rng.randrange(100, 500000) / 100
        return (
            f"${value:,.2f}"
            if self.lang == "en"
            else f"{value:,.2f} €".replace(",", "X").replace(".", ",").replace("X", ".")
        )

    def value(self, slot: str) -> str:
        table: dict[str, Callable[[], str]] = {
            "PERSON": self.person,
            "FIRST": self.first,
            "LAST": self.last,
            "EMAIL": self.email,
            "PHONE": lambda: str(self.fake.phone_number()),
            "IBAN": self.iban,
            "CARD": self.card,
            "IP": lambda: str(self.fake.ipv4()),
            "IP6": self.ip6,
            "STREET": self.street,
            "ADDRESS": self.address,
            "ADDRESS_NL": lambda: self.address("\n"),
            "DOB": lambda: self.date(True),
            "DATE": lambda: self.date(False),
            "TITLE": lambda: self.rng.choice(EN_TITLES if self.lang == "en" else DE_TITLES),
            "EXP": lambda: f"{self.rng.randrange(1, 13):02d}/{self.rng.randrange(25, 32)}",
            "TIME": lambda: (
                f"{self.rng.randrange(7, 19)}:{self.rng.choice(['00', '15', '30', '45'])}"
            ),
            "CITY": lambda: str(self.fake.city()),
            "COMPANY": lambda: str(self.fake.company()),
            "ORDER": lambda: (
                self.rng.choice(["#", "A-", "", "INV-"]) + self.digits(self.rng.randrange(6, 11))
            ),
            "LONGNUM": lambda: self.digits(self.rng.choice([12, 14, 16, 18, 20])),
            "VERSION": lambda: (
                f"{self.rng.randrange(1, 9)}.{self.rng.randrange(20)}.{self.rng.randrange(30)}"
            ),
            "NUM": lambda: str(self.rng.randrange(2, 95)),
            "YEAR": lambda: str(self.rng.randrange(2015, 2026)),
            "ROOM": lambda: f"{self.rng.choice('ABCD')}{self.rng.randrange(100, 520)}",
            "CODE": lambda: f"{self.digits(3)} {self.digits(3)} {self.digits(3)}",
            "BADIBAN": self.bad_iban,
            "AMOUNT": self.amount,
            "CAPWORD": lambda: self.rng.choice(EN_CAPWORDS if self.lang == "en" else DE_CAPWORDS),
        }
        return table[slot]()


def label_of(slot: str) -> str | None:
    if slot not in LABELS:
        return None
    return {
        "FIRST": "PERSON",
        "LAST": "PERSON",
        "IP6": "IP",
        "ADDRESS_NL": "ADDRESS",
        "STREET": "ADDRESS",
    }.get(slot, slot)


def fill(template: str, gen: Gen, text: str, spans: list[dict[str, Any]]) -> str:
    """Append one filled template to text, recording the spans of personal data."""
    pos = 0
    for match in SLOT.finditer(template):
        text += template[pos : match.start()]
        value = gen.value(match.group(1))
        label = label_of(match.group(1))
        if label is not None:
            spans.append({"start": len(text), "end": len(text) + len(value), "label": label})
        text += value
        pos = match.end()
    return text + template[pos:]


def pick_templates(pools: dict[str, list[str]], rng: random.Random) -> tuple[str, list[str]]:
    kind = rng.choices(["chat", "email", "post", "negative"], weights=[3, 3, 2, 2])[0]
    if kind == "negative":
        return kind, rng.sample(pools["neg"], rng.randrange(1, 3))
    body = rng.sample(pools["body"], rng.randrange(1, 4))
    if rng.random() < 0.3:
        body.insert(rng.randrange(len(body) + 1), rng.choice(pools["neg"]))
    if kind == "email":
        return kind, [rng.choice(pools["greet"]), *body, rng.choice(pools["sign"])]
    return kind, body


_FAKERS: dict[str, Faker] = {}


def generate(lang: str, index: int) -> dict[str, Any]:
    """The corpus entry number index of lang, the same on every run."""
    seed = LANG_SEED[lang] * 1_000_003 + index
    fake = _FAKERS.setdefault(lang, Faker("en_US" if lang == "en" else "de_DE"))
    fake.seed_instance(seed)
    rng = random.Random(seed)
    gen = Gen(lang, fake, rng)
    kind, templates = pick_templates(EN if lang == "en" else DE, rng)
    text = ""
    spans: list[dict[str, Any]] = []
    for i, template in enumerate(templates):
        if i:
            text += "\n" if kind == "email" else " "
        text = fill(template, gen, text, spans)
    return {"id": f"{lang}-{index:04d}", "lang": lang, "kind": kind, "text": text, "spans": spans}


def person_names(locales: list[str]) -> tuple[set[str], set[str]]:
    """First and last names of Faker's person providers for locales."""
    first: set[str] = set()
    last: set[str] = set()
    for locale in locales:
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ModuleNotFoundError:
            continue
        for attr in dir(provider):
            values = getattr(provider, attr)
            if attr.startswith("first_names") and values:
                first |= {str(v) for v in values}
            elif attr.startswith("last_names") and values:
                last |= {str(v) for v in values}
    return first, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=COUNT)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for lang in LANG_SEED:
        with (args.out / f"{lang}.jsonl").open("w", encoding="utf-8") as fh:
            for index in range(args.count):
                fh.write(json.dumps(generate(lang, index), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
