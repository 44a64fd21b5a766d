"""Names by their shape and place: passenger lists, accounts in logs and on code hosts, an
initial and a surname, the line above an address block, a "Surname, Firstname" line, a
possessive, a list item's first word, a contact before its number, a maiden name and an
e-mail's display name. Each needs a mark its shape cannot go without, so most texts skip most
of them."""

from __future__ import annotations

import re
from collections.abc import Callable

from corral.privacy.gazetteer import Gazetteer, normal
from corral.privacy.patterns import Span
from corral.privacy.structure import FIELD_LABEL, NAME_WORD, name_at, name_like
from corral.privacy.tokens import PARTICLE_WORDS


def find_shapes(text: str, gaz: Gazetteer) -> list[Span]:
    """Every name this module finds by shape in one text (not `address_names`: it needs the
    text's addresses)."""
    found = []
    if "/" in text or " from " in text or "**" in text:
        found += accounts(text)
    if ". " in text:
        found += initial_surnames(text, gaz)
    return found + person_shapes(text, gaz)


# Airline passenger lists: "SANTOS/MARIA FERNANDA MS".
PASSENGER = re.compile(
    r"\b(?P<name>[A-Z][A-Z'-]+/[A-Z][A-Z' -]*?[A-Z])(?= (?:MR|MRS|MS|MISS|MSTR|DR|CHD|INF)\b)"
)
PASSENGER_MARK = re.compile(r"[A-Z]/[A-Z]")
# Accounts in logs and on code hosts: sshd's "Accepted publickey for rkapoor from", GitHub's
# "**wojtek-nowak** commented", "github.com/wojtek-nowak/repo"; profiles on code hosts and social
# networks ("linkedin.com/in/rahulvenkataraman").
ACCOUNT = (
    re.compile(r"\bfor (?!invalid\b)(?P<name>[a-z_][\w.-]{1,31}) from (?=[\d:a-f])"),
    re.compile(r"\*\*(?P<name>\w[\w.-]{0,38})\*\* (?:commented|opened|closed|reviewed|approved)"),
    re.compile(
        r"\b(?:github\.com|gitlab\.com|linkedin\.com/in|instagram\.com|x\.com|twitter\.com"
        r"|facebook\.com|tiktok\.com)/@?(?P<name>[A-Za-z0-9][\w.-]{0,38}[\w])(?=[/?\s),]|$)"
    ),
)
INITIAL_SURNAME = re.compile(r"(?<![\w.])[A-Z]\. (?P<surname>[A-Z][^\W\d_]+(?:-[A-Z][^\W\d_]+)?)\b")


def accounts(text: str) -> list[Span]:
    """Passenger-list names and user names in logs and code-host pages, each pattern run only
    where its mark occurs."""
    marks = (
        PASSENGER_MARK.search(text) is not None,
        " from " in text,
        "**" in text,
        ".com/" in text,
    )
    return [
        _named(m)
        for pattern, marked in zip((PASSENGER, *ACCOUNT), marks, strict=True)
        if marked
        for m in pattern.finditer(text)
    ]


def initial_surnames(text: str, gaz: Gazetteer) -> list[Span]:
    """An initial and a surname: "J. Lindgren"."""
    return [
        Span(m.start(), m.end(), "PERSON", m.group(0))
        for m in INITIAL_SURNAME.finditer(text)
        if name_like(gaz, m.group("surname")) or m.group("surname") in gaz.last  # "T. Braun"
    ]


ADDRESS_PARTS = re.compile(r"[^,\n]+(?:, ?|\n)")


def without_names(text: str, addresses: list[Span], gaz: Gazetteer) -> list[Span]:
    """Addresses that start with a name, before the first part with a house number, start
    after it: a postcode reaches back over every capitalised part ("CURRICULUM VITAE\nMARTA
    KOWALCZYK\n14 Ashgrove Road, Bristol BS7 9LH"), and the name is whose address it is."""
    out = []
    for address in addresses:
        cut, numbered = 0, False
        for part in ADDRESS_PARTS.finditer(address.text):  # every part but the last
            words = part.group().strip(" ,\n")
            numbered = any(ch.isdigit() for ch in words)
            if numbered:
                break
            if _a_name(gaz, words):
                cut = part.end()
        if cut and numbered:
            start = address.start + cut
            address = Span(start, address.end, "ADDRESS", text[start : address.end])
        out.append(address)
    return out


def _a_name(gaz: Gazetteer, words: str) -> bool:
    """Every word a listed or unknown one, particles aside ("Fatima Al-Sayed")."""
    kept = [w for w in words.replace("-", " ").split() if w.lower() not in PARTICLE_WORDS]
    return bool(kept) and name_like(gaz, " ".join(kept))


def address_names(text: str, addresses: list[Span], gaz: Gazetteer) -> list[Span]:
    """The line above each of `addresses` that starts a line: whose address it is
    ("Lieferadresse:\nYuki Nakamura-Schmidt\nGoethestr. 14")."""
    found = []
    for address in addresses:
        if address.start < 2 or text[address.start - 1] != "\n":
            continue
        line_start = text.rfind("\n", 0, address.start - 1) + 1
        line = text[line_start : address.start - 1]
        words = line.split()
        if ":" in line:
            continue  # a field's line: its parser reads it ("Empfänger: Rosalind Achterberg")
        if 1 <= len(words) <= 4 and all(w[:1].isupper() for w in words):
            span = name_at(text, line_start)
            if span is not None and span.end <= address.start and name_like(gaz, line, False):
                found.append(span)
    return found


SURNAME_FIRST_LINE = re.compile(  # "CHAN Ka Yee, Joyce" too
    rf"(?m)^(?P<name>{NAME_WORD}(?: {NAME_WORD}){{0,2}}, {NAME_WORD}(?: {NAME_WORD})?)[ \t]*$"
)
# "Surname, Firstname" heading a list item or a field's value, before what is said of them:
# "Schulze, Hartmut - 50,00 €", "Halter: Wolf, Bernd", "NGUYEN, Bao (b. 1979-05-21)".
SURNAME_FIRST = re.compile(
    rf"(?m)^(?:[^\n:]{{0,40}}: )?(?:[-*\u2022\u2705\u274c] ?)?"
    rf"(?P<name>(?P<surname>{NAME_WORD}(?:[ -]{NAME_WORD})?), (?P<first>{NAME_WORD}))"
    r"(?=[ \t]*(?:[-\u2013(,*]|$|\n))"
)
POSSESSIVE = re.compile(  # not a saint's ("St Luke's Hospice", "St Thomas' Hospital")
    r"(?<!\bSt )(?<!\bSt\. )(?<!Saint )(?<!Sankt )"
    r"\b(?P<name>[A-Z][^\W\d_]{1,30})(?:['\u2019]s\b|(?<=s)['\u2019](?= ))"
)
LIST_ITEM_NAME = re.compile(
    r"(?m)^[ \t]*(?:\d{1,2}[.)]|[-*\u2022]) (?P<name>[A-Z][^\W\d_]{1,30})(?= [a-z])"
)
CONTACT = re.compile(  # before a phone number: "+" or a trunk "0", then digits
    r"(?P<name>\b[A-Z][^\W\d_]{1,30}(?: [A-Z][^\W\d_]{1,30})?): ?(?=(?:\+|\(?0)[\d ()/-]{7,})"
)


# A maiden name ("geb. Schneider") and an e-mail's display name ("Hope Whitaker <hope@...>",
# as mail headers and quoted replies write them).
MAIDEN_NAME = re.compile(r"\b(?:geb\.|née|nee|born) (?P<name>[A-Z][^\W\d_]+(?:-[A-Z][^\W\d_]+)?)")
DISPLAY_NAME = re.compile(
    r"(?P<name>\b[A-Z][^\W\d_]+(?: [A-Z][^\W\d_'-]*){0,3}) <[^<>@\s]+@[^<>\s]+>"
)


HANDLE = re.compile(r"(?<![\w@./-])(?P<name>[a-z]{2,}[._][a-z]{2,}\d{1,4})(?![\w@-]|\.\w)")
"""A user name made of a name and digits: "jiwoo.kim02", "minjun_park97"."""
NATIVE_NAME = re.compile(
    r"\b[A-Z][\w'-]+ [A-Z][\w'-]+ \((?P<name>[\uac00-\ud7a3\u4e00-\u9fff\u3040-\u30ff]{2,4})\)"
)
"""A name in its own script in brackets after its romanised form: "Choi Eun-ji (최은지)"."""


def handles_and_scripts(text: str, gaz: Gazetteer) -> list[Span]:
    """User names that hold a listed name, and names in Korean, Chinese or Japanese script
    after their romanised form."""
    found = [_named(m) for m in NATIVE_NAME.finditer(text)] if "(" in text else []
    for m in HANDLE.finditer(text):
        parts = re.split(r"[._\d]+", m.group("name"))
        if any(gaz.is_name(p.title()) for p in parts if p):
            found.append(_named(m))
    return found


def person_shapes(text: str, gaz: Gazetteer) -> list[Span]:
    """Names by their shape around them: a maiden name, an e-mail's display name, a line of
    "Surname, Firstname", a possessive ("Simran's", "Niklas' Auto"), a list item's first word
    before a verb ("1. Harjit picks up"), a contact before its number ("Franzi: 0157 ..."). In
    the last four each word must be a listed name or no known word; before a phone number a
    known word that is not a frequent one will do ("Franzi")."""
    found = [_named(m) for m in MAIDEN_NAME.finditer(text)] + handles_and_scripts(text, gaz)
    if "<" in text:
        found += [_named(m) for m in DISPLAY_NAME.finditer(text)]

    def not_frequent(word: str) -> bool:
        return word.lower() not in gaz.frequent and not gaz.is_common(word)

    found += [
        _named(m)
        for m in (SURNAME_FIRST.finditer(text) if ", " in text else ())
        if gaz.is_first(normal(m.group("first")))
        if all(_surname(gaz, w) for w in m.group("surname").split())
    ]
    shapes: list[tuple[re.Pattern[str], bool, Callable[[str], bool]]] = [
        (SURNAME_FIRST_LINE, "," in text, gaz.is_unknown),
        (POSSESSIVE, "'" in text or "\u2019" in text, gaz.is_unknown),
        (LIST_ITEM_NAME, True, gaz.is_unknown),
        (CONTACT, ":" in text, not_frequent),
    ]
    for pattern, marked, rare in shapes:
        for m in pattern.finditer(text) if marked else ():
            name = m.group("name")
            acronym = name.isupper() and not gaz.is_first(normal(name))
            if pattern is CONTACT and (FIELD_LABEL.fullmatch(name) or acronym):
                continue  # a field's label or an acronym ("DDI: +353 ..."), not a contact
            words = [normal(w) for w in name.replace(",", " ").split()]
            if all(gaz.is_name(w) or rare(w) for w in words):
                found.append(_named(m))
    return found


def _surname(gaz: Gazetteer, word: str) -> bool:
    """A listed surname, even one that is a word ("Sommer"), or a word that is not frequent."""
    return normal(word) in gaz.last or name_like(gaz, word) or word.lower() not in gaz.frequent


def _named(m: re.Match[str]) -> Span:
    return Span(m.start("name"), m.end("name"), "PERSON", m.group("name"))
