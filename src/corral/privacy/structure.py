"""Structural cues, one small parser each: chat-export senders (WhatsApp, Telegram, IRC-style),
form fields (person, address, birth date, phone), attendee and cc lists, @mentions and
signatures. Tables and JSON are read by column or key in `records.py`, names by their shape
in `shapes.py`. Each returns spans whose values are personal because of where they stand,
whatever the words are."""

from __future__ import annotations

import re

from corral.privacy.cues import TITLE
from corral.privacy.gazetteer import LETTERS, UP, Gazetteer, is_german, normal
from corral.privacy.initials import find_initials
from corral.privacy.patterns import DATE, Span
from corral.privacy.records import json_values, table_values, vcard_values
from corral.privacy.tokens import signature_line

NAME_WORD = rf"[{LETTERS}](?:[{LETTERS}'\u2019.-]*[{LETTERS}.])?"
# A name value: words of letters (initials with a dot, hyphens, apostrophes), a "Surname,
# Firstname" comma allowed once; stops at digits, brackets, "|", "<" or a double space.
NAME_VALUE = re.compile(
    rf"{NAME_WORD}(?:(?: |, ?(?=[{UP}]))(?!(?:and|und|or|oder) ){NAME_WORD}){{0,5}}"
)
CHAT_SENDER = re.compile(
    r"(?m)^(?:\[(?:[\d./-]+,? |(?:Mo|Di|Mi|Do|Fr|Sa|So|Mon|Tue|Wed|Thu|Fri|Sat|Sun)\.? )?"
    r"\d{1,2}:\d{2}(?::\d{2})?(?: ?[AaPp][Mm])?\] ?"
    r"|[\d./-]+,? [\d:]+(?: ?[AaPp][Mm])? - )"
    r"(?P<name>[^:\n]{1,40}?):"
)
# Other exports' senders, a time beside them: Telegram's "Name, [03.04.2024 10:12]", "Name
# (18:40): text", and IRC-style logs' "<nick>" after a time.
TIMED_SENDERS = (  # (a mark the export cannot go without, its pattern)
    (", [", re.compile(r"(?m)^(?P<name>[^\W\d_][^,\n\[\]]{0,40}?), \[[\d./-]+,? [\d:]+\]")),
    (
        " (",
        re.compile(r"(?m)^(?P<name>[^\W\d_][^:()\n]{0,40}?) \(\d{1,2}:\d{2}(?: ?[AaPp][Mm])?\): "),
    ),
    ("<", re.compile(r"(?m)^(?:\[?[\d./: -]{4,20}\]? )?<(?P<name>[^\W\d][^<>\s]{0,30})> ")),
    # Discord's "maple_liam — 02/11/2024 7:02 PM" and Slack's "Sunny Park  10:31 AM", each
    # on a line of its own above the message.
    (
        " \u2014 ",
        re.compile(
            r"(?m)^(?P<name>[^\W\d][^\n\u2014]{0,40}?) \u2014 "
            r"(?:\d{1,2}/\d{1,2}/\d{2,4}|Today|Yesterday|Heute|Gestern)(?: at| um)? "
            r"\d{1,2}:\d{2}(?: ?[AaPp][Mm])?[ \t]*$"
        ),
    ),
    (
        "  ",
        re.compile(r"(?m)^(?P<name>[^\W\d_][^\n:]{0,40}?)  \d{1,2}:\d{2}(?: ?[AaPp][Mm])?[ \t]*$"),
    ),
)
CLOCKED_SENDER = re.compile(  # "Mai Nguyen 09:05: Bin dabei", when the name reads as one
    r"(?m)^(?P<name>[^\W\d_][^:()\n]{0,40}?),? \d{1,2}:\d{2}(?: ?[AaPp][Mm])?: "
)
PLAIN_SENDER = re.compile(rf"(?m)^(?P<name>[{LETTERS}][{LETTERS}'\u2019 -]{{0,30}}?): \S")
PERSON_FIELD = (
    r"name|full name|first names?(?:\(s\))?|surname|last name|given names?(?:\(s\))?|vorname"
    r"|nachname|complainant|defendant|plaintiff|claimant|respondent|halter(?:in)?|victim"
    r"|(?:employee|tenant|patient|customer|client|student|child|pupil|guest|member|account"
    r"|cardholder|applicant|contact|parent|guardian|passenger|owner)'?s? name"
    r"|familienname|geburtsname|rufname|family name|forenames?|middle names?"
    r"|vor- und nachname|vor- und zuname|vorname und name|first and last name"
    r"|name, vorname|name/vorname|nachname/vorname|vorname/name|vornamen"
    r"|patient(?: name)?|patientin|kontoinhaber(?:in)?|account holder|cardholder"
    r"|card holder|karteninhaber(?:in)?|tenant|mieter(?:in)?|landlord|vermieter(?:in)?"
    r"|applicant|antragsteller(?:/in|in)?|beneficiary|begünstigte[rn]?|zahlungsempfänger(?:in)?"
    r"|empfänger(?:in)?|recipient|policy holder|policyholder|versicherungsnehmer(?:in)?"
    r"|versicherte person|versicherte[rn]?|employee|mitarbeiter(?:in)?|member|mitglied|guest|gast"
    r"|borrower|director|witness|zeuge|next of kin|emergency contact|notfallkontakt|contact"
    r"|kontakt(?: / contact)?|ansprechpartner(?:in)?|kunde|kundin|customer|client|schüler/in"
    r"|schüler(?:in)?|student|parent|mother|father|mutter|vater|name des kindes|name of child"
    r"|child|kind|signature|unterschrift|signed|from|von|to|an|sender|absender|driver|fahrer(?:in)?"
    r"|landlord|owner|inhaber(?:in)?|verstorbene/r|verstorbene[r]?|deceased|passport holder"
    r"|erziehungsberechtigt(?:e[r]?)?|contractor|auftragnehmer|handwerker|guardian|nurse|doctor|arzt|ärztin|gp|author|autor(?:in)?"
    r"|user|benutzer|teacher|lehrer(?:in)?|host|speaker|referent(?:in)?|assignee|reporter"
)
LIST_FIELD = (
    r"attendees|participants|present|apologies|cc|bcc|to|teilnehmer(?:innen)?|anwesend"
    r"|entschuldigt|abwesend|besucher|visitors|visitor log|interview panel|panel|team|members"
    r"|mitglieder|guests|gäste|speakers|referenten|invited|eingeladen|verteiler|an|von|tn|da"
)
FIELD = re.compile(
    rf"(?im)(?:^|\|\s*|\s{{2,}})(?P<field>{PERSON_FIELD})(?:\s*\([^)\n]{{1,30}}\))?\s*[:\uff1a]\s*"
    r"(?P<value>[^\n|]*)"  # "Applicant (Last, First): Nguyen, Thi Lan"
)
LIST = re.compile(rf"(?im)(?:^|\n)\s*(?P<field>{LIST_FIELD})\s*[:\uff1a]\s*(?P<value>[^\n]*)")
ADDRESS_FIELD = re.compile(
    r"(?im)(?:^|\|\s*)(?:address|home address|service address|postal address|property"
    r"|anschrift|adresse|wohnhaft|wohnort|wohnung|lieferadresse|postanschrift)\s*[:\uff1a]\s*"
    r"(?P<value>[^\n|]{4,120})"
)
REMARK = re.compile(r" \(| [\u2013-] ")
"""Where a remark after an address starts: "Unit 5/12 Kingsway, Cronulla NSW 2230 (not the old
one)"."""
FIELD_END = re.compile(r"[ \t]*(?:$|\n|\||\(|<|  |[ ,]+\+?\d)")
BIRTH_LABEL = re.compile(r"(?im)^(?:d\.?o\.?b\.?|date of birth|born|geb\.?|geburtsdatum)\s*:")
MENTION = re.compile(r"(?<![\w.@])@(?P<name>[\w][\w.-]{1,38}[\w])")
SURNAME_AFTER = re.compile(r" [A-Z][a-z]+(?=[ ,.!?:;)]|$)")
"""After a capitalised @handle, the surname the mention goes on with: "@Berat Hasani"."""
LIST_ITEM = re.compile(r"\s*(?:,|;|\band\b|\bund\b|\bu\.|&)\s*")
STRIP_TITLE = re.compile(TITLE.pattern.replace(")$", ")", 1).replace("(?i)(?:", "(?i)^(?:", 1))


def _person(text: str, start: int, end: int) -> Span | None:
    """A person span for text[start:end], less a leading title and trailing punctuation."""
    value = text[start:end]
    m = STRIP_TITLE.match(value)
    while m and m.end() < len(value):
        start += m.end()
        value = text[start:end]
        m = STRIP_TITLE.match(value)
    value = value.rstrip(" .,;:-")
    if len(value) < 2 or not any(ch.isalpha() for ch in value):
        return None
    return Span(start, start + len(value), "PERSON", value)


def name_at(text: str, pos: int) -> Span | None:
    m = NAME_VALUE.match(text, pos)
    if not m:
        return None
    end = m.end()
    comma = m.group(0).find(",")
    if comma != -1 and not FIELD_END.match(text, end):
        end = m.start() + comma  # "Papadopoulos, Kennzeichen B-XY": a list, not "Surname, First"
    return _person(text, m.start(), end)


def name_like(gaz: Gazetteer, value: str, every: bool = True) -> bool:
    """Whether the words read as a name: listed or unknown (every word, or at least one)."""
    words = [normal(w) for w in value.replace("-", " ").split()]
    ok = [gaz.is_name(w) or gaz.is_unknown(w) for w in words]
    return bool(words) and (all(ok) if every else any(ok))


FIELD_LABEL = re.compile(
    rf"(?i)(?:{PERSON_FIELD}|{LIST_FIELD}|address|anschrift|adresse|phone|tel|telefon|mobile"
    r"|mobil|handy|mob|cell|ph|dd|direct|fax|office|work|home|m|t|w|e-mail|email"
    r"|date of birth|dob|geburtsdatum|geb|born|subject|betreff|iban"
    r"|bic|card|karte|kartennummer|ref|id|date|datum|room|zimmer|nationality|sex|geschlecht"
    r"|[\w/ -]*(?:nummer|name|datum|ort|number)|[\w/ -]*\b(?:nr|no))"  # "Ref no"; not "jonno"
)


def _sender(gaz: Gazetteer, german: bool, name: str) -> bool:
    if FIELD_LABEL.fullmatch(name.strip()):
        return False
    words = [normal(w) for w in name.split()]
    if len(words) == 1 and (words[0] in gaz.first or words[0].title() in gaz.first):
        return True  # "Summer:", "Klaus:", "mel:": a first name that is also a word
    if german:  # every noun is capitalised: a sender must be a listed name or no known word
        return any(gaz.is_name(w) or gaz.is_unknown(w) for w in words)
    # A known word is a label ("Salary:", "Venue:") unless a name list holds it; a hyphenated
    # word of rare parts is a name ("Seo-yeon"), one of frequent ones a label ("Check-in").
    hyphenated = [w.split("-") for w in name.split() if "-" in w]
    if any(all(p.lower() not in gaz.frequent for p in parts) for parts in hyphenated):
        return True
    return name_like(gaz, name, every=False)


def _a_form(text: str) -> bool:
    """Whether the text has fields of a form: its "Label: value" lines are no chat."""
    return any(p.search(text) for p in (FIELD, ADDRESS_FIELD, BIRTH_LABEL))


def chat_senders(text: str, gaz: Gazetteer) -> list[Span]:
    """The sender of each line of a pasted chat export; plain "name: message" lines count only
    where two or more lines of the text have that shape and the sender reads as a name."""
    patterns = [CHAT_SENDER, *(pattern for mark, pattern in TIMED_SENDERS if mark in text)]
    found = [
        _person(text, m.start("name"), m.end("name"))
        for pattern in patterns
        for m in pattern.finditer(text)
    ]
    clocked = list(CLOCKED_SENDER.finditer(text))
    plain = list(PLAIN_SENDER.finditer(text))
    chat = len(plain) >= 2 and not _a_form(text)
    german = is_german(text) if clocked or chat else False  # most texts are neither
    found += [
        _person(text, m.start("name"), m.end("name"))
        for m in clocked
        if _sender(gaz, german, m.group("name"))
    ]
    if chat:
        senders = [m for m in plain if _sender(gaz, german, m.group("name"))]
        if senders:  # a chat: its other senders of a word or two are people too ("Da-eun")
            senders = [m for m in plain if m in senders or _short_sender(gaz, m.group("name"))]
        found += [_person(text, m.start("name"), m.end("name")) for m in senders]
    return [s for s in found if s is not None]


def _short_sender(gaz: Gazetteer, name: str) -> bool:
    """A word or two that is no label and not only known words ("Price:" lines are a record)."""
    words = name.split()
    if len(words) > 2 or FIELD_LABEL.fullmatch(name.strip()):
        return False
    return any(gaz.is_unknown(w) or gaz.is_name(normal(w)) for w in words)


def form_fields(text: str) -> list[Span]:
    """Values of person fields ("Name:", "Kontoinhaber:", "Patient:") and of lists of names."""
    found: list[Span | None] = []
    for m in FIELD.finditer(text):
        found.append(name_at(text, m.start("value")))
    for m in LIST.finditer(text):
        found += _list_items(text, m.start("value"), m.end("value"))
    return [s for s in found if s is not None]


def _list_items(text: str, start: int, end: int) -> list[Span | None]:
    items: list[Span | None] = []
    pos = start
    for sep in [*LIST_ITEM.finditer(text, start, end), None]:
        stop = sep.start() if sep else end
        items.append(name_at(text, pos) if pos < stop else None)
        if items[-1] is not None and items[-1].end > stop:
            items[-1] = _person(text, pos, stop)
        pos = sep.end() if sep else end
    return items


def address_fields(text: str) -> list[Span]:
    out = []
    for m in ADDRESS_FIELD.finditer(text):
        value = REMARK.split(m.group("value"), maxsplit=1)[0].rstrip(" .,;")
        below = "\n" in text[m.start() : m.start("value")]
        if below and not any(ch.isdigit() for ch in value):
            continue  # an address block under its label starts with whose it is: a name
        out.append(Span(m.start("value"), m.start("value") + len(value), "ADDRESS", value))
    return out


def mentions(text: str) -> list[Span]:
    """@handles that are not part of an e-mail address (the handle, without the "@")."""
    if "@" not in text:
        return []
    found = []
    for m in MENTION.finditer(text):
        end = m.end("name")
        surname = SURNAME_AFTER.match(text, end) if m.group("name")[0].isupper() else None
        end = surname.end() if surname else end
        found.append(Span(m.start("name"), end, "PERSON", text[m.start("name") : end]))
    return found


def signatures(text: str, gaz: Gazetteer) -> list[Span]:
    """The line after a closing ("Best regards", "Viele Grüße") when it reads as a name."""
    found = []
    for m in re.finditer(r"\n[ \t]*(?=\S)", text):
        pos = m.end()
        if signature_line(text, pos):
            span = name_at(text, pos)
            if span and len(span.text.split()) <= 4 and name_like(gaz, span.text):
                found.append(span)
    return found + _last_line(text, gaz)


def _last_line(text: str, gaz: Gazetteer) -> list[Span]:
    """A sign-off without a closing: the last line of a letter, one to three name words."""
    body = text.rstrip()
    cut = body.rfind("\n")
    if cut == -1:
        return []
    span = name_at(text, cut + 1)
    if span is None or len(span.text.split()) > 3 or not span.text[0].isupper():
        return []
    rest = body[span.end :].strip()
    if rest and not rest.startswith(","):
        return []
    return [span] if name_like(gaz, span.text) else []


BORN_AFTER_NAME = re.compile(r"\s?\((?:geb\.|geboren|born|b\.|\*)\s?\d")


def born_names(text: str, gaz: Gazetteer) -> list[Span]:
    """A name with its birth date after it in brackets: "Chidera (geb. 21.06.2015)"; the name is
    the capitalised words before the bracket that read as one (at most three)."""
    found = []
    for m in BORN_AFTER_NAME.finditer(text):
        words = text[max(0, m.start() - 80) : m.start()].split(" ")
        name: list[str] = []
        while words and len(name) < 3:
            word = words.pop()
            if not (word[:1].isupper() and name_like(gaz, word)):
                break
            name.insert(0, word)
        if name:
            value = " ".join(name)
            found.append(Span(m.start() - len(value), m.start(), "PERSON", value))
    return found


def birth_fields(text: str) -> list[Span]:
    """A date after a field or mark of birth ("*12.05.1948", "Born: 11/04/2001")."""
    out = []
    for m in re.finditer(r"(?:^|[\s(])\*\s?(?=\d)", text):
        d = DATE.match(text, m.end())
        if d:
            out.append(Span(d.start(), d.end(), "DOB", d.group(0)))
    return out


def find_structures(text: str, gaz: Gazetteer) -> list[Span]:
    """Every structural finding of one text. Each parser needs a mark its structure cannot go
    without (a colon after a sender or a label, a line break before a signature, an "@", a
    "*" of birth), so a text without it skips that parser: most short prompts skip them all."""
    found = []
    if ":" in text or "\uff1a" in text:
        found += [*chat_senders(text, gaz), *form_fields(text)]
    found += mentions(text) + find_initials(text)
    if "\n" in text:
        found += signatures(text, gaz)
    if ":" in text or "\uff1a" in text:
        found += address_fields(text)
    if "*" in text:
        found += birth_fields(text)
    if "(" in text:
        found += born_names(text, gaz)
    if "\n" in text and any(d in text for d in (",", ";", "\t")):
        found += table_values(text)
    if '":' in text or '" :' in text:
        found += json_values(text)
    if "VCARD" in text or "vcard" in text:
        found += vcard_values(text)
    return found
