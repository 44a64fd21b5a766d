"""Pattern detectors with validators: e-mail, IBAN (mod 97), card (Luhn and IIN), IP, phone,
date of birth and postal address, each a function `text -> list[Span]`."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """One detected value: [start, end) in the text, its category and the text itself."""

    start: int
    end: int
    label: str
    text: str


# Linear time on any text: a local part starts only where no local-part character precedes it
# (so attempts never restart inside a run) and is matched possessively (no backtracking).
DIGIT = re.compile(r"\d")
"""Any digit, as the patterns' own `\\d` reads it (Unicode digits included): every pattern of
a number (IBAN, card, IPv4, phone, date) needs one, so a text without any skips them all. Most
short prompts have none, and one search is cheaper than each pattern's own scan of the text."""
EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]++@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
IBAN_SHAPE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
CARD = re.compile(r"(?<![\w.,+-])\d(?:[ -]?\d){11,18}(?![\w-])")  # "+49 ...": a phone
IPV4 = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\w]|\.\d)"
)
IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
PHONE = re.compile(
    r"(?:(?<=,)(?=\+)|(?<![\w@+/.,#-]))"  # after a comma only with a "+": a CSV cell
    r"(?:\+\d{1,3}[ -]?|00\d{1,3}[ -]?)?(?:\(\d{1,5}\)[ -]?)?\d[\d./ -]{3,16}\d"
    r"(?:\s?(?:x|ext\.?|Durchwahl)\s?\d{1,5})?(?![\w@-])"
)
MOBILE = re.compile(r"0[789][01]\d{8}|07\d{8,9}|01[5-7]\d{8,9}")
"""Mobile numbers written without a space: Nigerian, British, Kenyan and German ones."""
PHONE_CUE = re.compile(
    r"(?i)(phone|\btel\b|\bph\b|call|mobile|cell|\bfax|text me|reach|telefon|handy|anruf|erreich|"
    r"schreib mir|rückruf|whatsapp|\bhp\b|handphone|(?:my|his|her|their|your) (?:new )?number)"
)
ID_CUE = re.compile(
    r"(?i)(?:tracking|order|kunden|sendungs|bestell|rechnung|invoice|referen|customer|code|"
    r"vorgang|ticket|\bid|\bpin|dial-in|einwahl|meeting|\bcase|\bref|serial|booking|reservation"
    r"|\bpnr|confirmation|aktenzeichen|paket|parcel)\w*"
    r"[ ]?(?:number|nummer|no\.?|nr\.?)?[ ]?[:#]?[ ]?$"
)
CODE_BEFORE = re.compile(r"\b[A-Z]+\d[A-Z\d]* $")
DATE_LIKE = re.compile(r"^(?:\d{1,2}[./]\d{1,2}[./]\d{2,4}|\d{4}[-.]\d{2}[-.]\d{2})$")
DE_GROUPS = re.compile(r"^0\d{2,5}[ /-]\d{4,}")
TRUNK_GROUPS = re.compile(r"^0[1-9]\d{0,4}(?: ?/ ?| |-)\d")  # "09 555 8120" (Auckland) too
US_GROUPS = re.compile(r"^\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}")

MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|"
    "Januar|Jänner|Februar|Feber|März|Mai|Juni|Juli|Oktober|Dezember"
)
ROMAN_MONTH = r"(?:I{1,3}|IV|VI{0,3}|IX|XI{0,2})"
DATE = re.compile(
    rf"\b(?:\d{{1,2}}[./-]\d{{1,2}}[./-](?:19|20)\d{{2}}|(?:19|20)\d{{2}}([-/.])\d{{2}}\1\d{{2}}|"
    rf"(?i:{MONTHS})\.? \d{{1,2}}(?i:st|nd|rd|th)?,? (?:19|20)\d{{2}}|"
    rf"\d{{1,2}}(?i:st|nd|rd|th)?\.? (?:of )?(?i:{MONTHS})\.?,? (?:19|20)\d{{2}}|"
    rf"\d{{1,2}}\.{ROMAN_MONTH}\.(?:19|20)\d{{2}}|"  # "19.IV.1961"
    rf"\d{{1,2}}-(?i:{MONTHS})-(?:19|20)\d{{2}}|"  # "05-Nov-1992"
    r"\d{2}(?:JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)(?:19|20)?\d{2})(?!\d)"
)
BIRTHDAY_WORDS = ("bday", "b-day", "birthday", "geburtstag", "dob")
# A birthday without its year right after a birthday's word: "her bday is 17 May". The
# search starts at the word: a date pattern tried at every word cost a tenth of the scan.
YEARLESS = re.compile(
    r"(?i:\b(?:b-?day|birthday|geburtstag|dob)\b)[^\n\d]{0,16}?"
    rf"(?P<date>\b(?:\d{{1,2}}(?i:st|nd|rd|th)?\.? (?:of )?(?i:{MONTHS})"
    rf"|(?i:{MONTHS})\.? \d{{1,2}}(?i:st|nd|rd|th)?)\b(?!,? \d))"
)
# ... or right before it: "sie hatte am 3. april geburtstag".
YEARLESS_BEFORE = re.compile(
    rf"(?P<date>\b\d{{1,2}}(?i:st|nd|rd|th)?\.? (?:of )?(?i:{MONTHS}))\b(?!,? \d)"
    r"[^\n\d]{0,12}?(?i:\b(?:b-?day|birthday|geburtstag))"
)
# Up to 40 characters between the cue and the date: "Geburtsdatum laut unseren Unterlagen: ".
BIRTH_BEFORE = re.compile(
    r"(?i)(born|birth|\bdob\b|d\.o\.b|geboren|\bgeb\.|geburt|(?:^|\n|\()b\.)[^\n]{0,40}$"
)
LIFE_SPAN = re.compile(
    r"\s*[-\u2013]\s*(?:\d{1,2}[./]\d{1,2}[./]|\d{1,2}\.? [^\W\d_]+\.? )(\d{4})\b"
)
"""A date that a death date follows: "Frank Delaney, 4 June 1951 - 11 April 2014"."""
REPLY_HEAD = re.compile(r"(?:[^\n]{0,60}?: ?)?(?:[^\W\d_][^\n,:]{0,40}, )?")
"""What stands before a reply's first word: a chat's sender and time, and the name the date
belongs to ("Customer: Summer Ellison, 04/02/1987"), or nothing."""
BIRTH_WORD = re.compile(
    r"(?i)\b(?:birthday|date of birth|dob|born|geburtsdatum|geburtstag|geboren)\b"
)
BIRTH_AFTER = re.compile(  # "Am 12.03.2024 um 04:17 Uhr ist unsere Ida auf die Welt gekommen"
    r"(?i)^(?:[^\n]{0,12}\b(?:geboren|was born|were born)"
    r"|[^\n]{0,60}?\b(?:zur|auf die) welt gekommen|[^\n]{0,4}\bkam(?:st|en)?\b[^\n]{0,20}?"
    r"\b(?:zur|auf die) welt)"
)

CAP = r"[A-ZÄÖÜ][a-zäöüß]+"
DE_SUFFIX = (
    r"(?:straße|strasse|str\.|gasse|platz|ring|weg|allee|damm|ufer|chaussee|pfad|markt|steig"
    r"|gürtel)"
)
DE_SUFFIX_WORD = (
    r"(?:Straße|Strasse|Str\.|Gasse|Platz|Ring|Weg|Allee|Damm|Ufer|Chaussee|Pfad|Markt|Gürtel)"
)
MAX_STREET_PARTS = 6
"""Hyphenated words before the street type ("Karl-Theodor-Maria-Straße"); unbounded, each of
a run of "Ab-Ab-Ab-..." would rescan the rest of the run: quadratic time."""
DE_STREET = (
    rf"(?:{CAP}(?:-{CAP}){{0,{MAX_STREET_PARTS - 1}}}-{DE_SUFFIX_WORD}"
    rf"|(?:{CAP}er )?{CAP}{DE_SUFFIX}|"  # "Bornheimer Landstraße"
    rf"{CAP} {DE_SUFFIX_WORD}|(?:Am|An der|An den|Im|Auf dem|Auf der|Zum|Zur|In der|In den"
    rf"|Unter den|Hinter der|Hinter dem|Vor dem|Alte|Alter|Neue|Neuer|Große|Kleine)"
    rf"(?: {CAP}){{1,3}})"  # "Zur Alten Mühle 4c", "An der Neuen Brücke 3"
)
DE_PART = (  # where in the house: "Hinterhaus", "2. OG links", "Whg. 5", "bei Schulz"
    r"(?:,? (?:bei|c/o) (?:Familie |Fam\. )?[A-ZÄÖÜ][\wäöüß-]+"
    r"|,? (?:(?:\d{1,2}\. )?(?:Hinterhaus|Vorderhaus|Seitenflügel|Gartenhaus|Rückgebäude"
    r"|Hinterhof|Hof)"
    r"|(?:\d{1,2}\. )?(?:OG|UG|EG|DG|Etage|Stock|Obergeschoss)(?: (?:links|rechts|Mitte))?"
    r"|(?:Whg|Wohnung|App|Apt|Zimmer|Zi|Haus|Stiege|Top|Tür)\.? ?\d{1,4}[a-z]?"
    r"|Aufgang [A-Z\d])){0,2}"
)
AT_PARTS = r"(?:/(?:Stiege|Stg\.|Top|Tür) ?\d{1,4}){0,3}"  # "Gentzgasse 41/Stiege 2/Top 9"
DE_ADDRESS = re.compile(
    rf"\b{DE_STREET} \d{{1,4}}(?:[ ]?[a-zA-Z]\b|(?:[/-]\d{{1,4}}){{1,3}})?{AT_PARTS}{DE_PART}"
    rf"(?:(?:,[ ]?|\n| [|\u00b7] )(?:(?:CH|D|A|DE|AT)-)?\d{{4,5}} "
    rf"(?:(?:Bad|Sankt|St\.|Schwäbisch|Bergisch|Hann\.) )?"
    rf"[A-ZÄÖÜ][\wäöüß-]+"
    rf"(?: (?:am|an der|in der|im|a\.d\.|ob der|i\.) [A-ZÄÖÜ][\wäöüß-]+)?"
    rf"(?: (?:OT|Ot|Ortsteil) [A-ZÄÖÜ][\wäöüß-]+)?)?"
)
# Written all in lower case, as in a chat: "grabbeallee 17, hinterhof, 13156 berlin"; looked
# for only where a lower-case street type and a number occur (DE_LOWER_MARK).
DE_LOWER_MARK = re.compile(r"[a-zäöüß](?:straße|strasse|str\.|gasse|allee|damm|chaussee|ufer) \d")
DE_LOWER = re.compile(
    r"\b[a-zäöüß]{3,}(?:straße|strasse|str\.|gasse|allee|damm|chaussee|ufer) \d{1,4}[a-z]?"
    r"(?:/\d{1,4}){0,3}(?:,? (?:hinterhaus|vorderhaus|hinterhof|seitenflügel|gartenhaus"
    r"|\d{1,2}\. (?:og|stock|etage))(?: (?:links|rechts))?){0,2}(?:,? \d{4,5} [a-zäöüß]+)?"
)


IBAN_LENGTHS = {
    "DE": 22,
    "GB": 22,
    "AT": 20,
    "CH": 21,
    "FR": 27,
    "NL": 18,
    "IT": 27,
    "ES": 24,
    "BE": 16,
    "LU": 20,
    "PL": 28,
    "DK": 18,
    "SE": 24,
    "NO": 15,
    "FI": 18,
    "IE": 22,
    "PT": 25,
    "LI": 21,
    "CZ": 24,
    "SK": 24,
    "HU": 28,
    "SI": 19,
    "HR": 21,
    "GR": 27,
    "RO": 24,
    "BG": 22,
    "TR": 26,
    **{"LT": 20, "LV": 21, "EE": 20, "MT": 31, "CY": 28, "IS": 26, "SM": 27, "MC": 27, "AD": 24},
    **{"GI": 23, "RS": 22, "ME": 22, "MK": 19, "AL": 28, "BA": 20, "MD": 24, "XK": 20, "UA": 29},
    **{"GE": 22, "AZ": 28, "KZ": 20, "BY": 28, "PK": 24, "SA": 24, "AE": 23, "QA": 29, "KW": 30},
    **{"BH": 22, "JO": 30, "LB": 28, "IL": 23, "EG": 29, "TN": 24, "MR": 27, "BR": 29, "DO": 28},
    **{"CR": 22, "GT": 28, "VA": 22, "FO": 18, "GL": 18, "PS": 29, "IQ": 23, "LY": 25, "SC": 31},
}


PRINTED_IBAN = re.compile(r"[A-Z]{2}\d{2}(?: [A-Z0-9]{4})+(?: [A-Z0-9]{1,3})?")
IBAN_CUE = re.compile(r"(?i)iban|konto|account|acct|bankverbindung|bank details")
CARD_CUE = re.compile(r"(?i)card|karte|visa|mastercard|amex|kreditkarte")
GROUPS_OF_FOUR = re.compile(r"\d{4}(?:[ -]\d{4}){3}")


def iban_valid(compact: str) -> bool:
    """ISO 13616 mod-97 check of an IBAN without spaces."""
    if not 15 <= len(compact) <= 34 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    moved = compact[4:] + compact[:4]
    try:
        return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1
    except ValueError:
        return False


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a string of digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


CARD_LENGTHS = [
    (re.compile(r"^4"), {13, 16, 19}),
    (re.compile(r"^(?:5[1-5]|2[2-7])"), {16}),
    (re.compile(r"^3[47]"), {15}),
    (re.compile(r"^3[0689]"), {14, 16}),
    (re.compile(r"^35"), {16, 19}),
    (re.compile(r"^(?:2131|1800)"), {15}),
    (re.compile(r"^(?:6011|64[4-9]|65|62)"), {16, 17, 18, 19}),
    (re.compile(r"^(?:50|5[6-8]|6304|67|0604|6390)"), set(range(12, 20))),
]


def card_valid(digits: str) -> bool:
    """A payment card number: an issuer prefix with its lengths, and the Luhn checksum."""
    for prefix, lengths in CARD_LENGTHS:
        if prefix.match(digits):
            return len(digits) in lengths and luhn_valid(digits)
    return False


def _id_number(text: str, start: int) -> bool:
    """Whether the number at start is introduced as an order, customer or tracking number."""
    return bool(ID_CUE.search(text[max(0, start - 24) : start]))


def _span(m: re.Match[str], label: str, end: int | None = None) -> Span:
    stop = m.end() if end is None else end
    return Span(m.start(), stop, label, m.string[m.start() : stop])


def find_emails(text: str) -> list[Span]:
    return [_span(m, "EMAIL") for m in EMAIL.finditer(text)] if "@" in text else []


def find_ibans(text: str) -> tuple[list[Span], list[Span]]:
    """Valid IBANs, and every IBAN-shaped string (valid or not) to keep phones out of it."""
    found: list[Span] = []
    shapes: list[Span] = []
    if not DIGIT.search(text):
        return found, shapes
    for m in IBAN_SHAPE.finditer(text):
        shapes.append(_span(m, "IBAN"))
        raw = m.group(0)
        positions = [i for i, ch in enumerate(raw) if ch != " "]
        compact = raw.replace(" ", "")
        # Shorter than its country's length (a digit dropped when copied): kept if its
        # checksum holds all the same. A miss leaks an account; a false alarm costs little.
        length = min(IBAN_LENGTHS.get(compact[:2], len(compact)), len(compact))
        # Its checksum wrong (a digit mistyped) but of its country's length and called an
        # IBAN or printed as one, in groups of four: an account all the same.
        printed = PRINTED_IBAN.fullmatch(raw) is not None or _called(text, m.start(), IBAN_CUE)
        named = length == IBAN_LENGTHS.get(compact[:2]) and printed
        if iban_valid(compact[:length]) or named:
            found.append(_span(m, "IBAN", m.start() + positions[length - 1] + 1))
    return found, shapes


def find_cards(text: str) -> list[Span]:
    """Card numbers; one followed by more digits ("5170 7413 7484 7772 03/26", its expiry) is
    the run's first groups that make a valid card."""
    if not DIGIT.search(text):
        return []
    found = []
    for m in CARD.finditer(text):
        raw = m.group(0)
        ends = [i for i in range(1, len(raw) + 1) if i == len(raw) or raw[i] in " -"]
        for end in reversed(ends):
            if card_valid(re.sub(r"\D", "", raw[:end])):
                found.append(_span(m, "CARD", m.start() + end))
                break
        else:  # a checksum that fails in four groups of four called a card: a typo, still one
            if GROUPS_OF_FOUR.fullmatch(raw) and _called(text, m.start(), CARD_CUE):
                found.append(_span(m, "CARD"))
    return found


def _called(text: str, start: int, cue: re.Pattern[str]) -> bool:
    return cue.search(text, max(0, start - 30), start) is not None


def find_ips(text: str) -> list[Span]:
    found = [_span(m, "IP") for m in IPV4.finditer(text)] if DIGIT.search(text) else []
    if ":" in text:
        for m in IPV6.finditer(text):
            try:
                ipaddress.IPv6Address(m.group(0))
            except ValueError:
                continue
            found.append(_span(m, "IP"))
    return found


def _phone_ok(text: str, m: re.Match[str]) -> bool:
    raw = m.group(0)
    main = re.split(r"\s?(?:x|ext|Durchwahl)", raw)[0]
    digits = re.sub(r"\D", "", main)
    if not 7 <= len(digits) <= 15 or DATE_LIKE.match(main.strip()) or _id_number(text, m.start()):
        return False
    if CODE_BEFORE.search(text, max(0, m.start() - 12), m.start()):
        return False  # the end of a code: "tracking 1Z 999 AA1 01 2345 6784"
    if raw[0] in "+(" or raw.startswith("00") or US_GROUPS.match(raw):
        return True
    before = text[max(0, m.start() - 25) : m.start()]
    after = text[m.end() : m.end() + 20]
    on_own_line = before.endswith("\n") and (after == "" or after.startswith("\n"))
    trunk = TRUNK_GROUPS.match(main) is not None and 9 <= len(digits) <= 12
    structured = bool(DE_GROUPS.match(main)) or trunk or MOBILE.fullmatch(main) is not None
    return structured or on_own_line or bool(PHONE_CUE.search(before) or PHONE_CUE.search(after))


def find_phones(text: str) -> list[Span]:
    if not DIGIT.search(text):
        return []
    found = []
    for m in PHONE.finditer(text):
        if _phone_ok(text, m):
            found.append(_span(m, "PHONE"))
        elif " / " in m.group(0):  # two numbers one after the other: "+380 67 412 9083 / 0155 ..."
            found += _each_number(text, m)
    return found


def _each_number(text: str, m: re.Match[str]) -> list[Span]:
    out = []
    start = m.start()
    parts = m.group(0).split(" / ")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1  # it may go on past the run, which stops at 18 characters
        one = PHONE.match(text, start) if last else PHONE.fullmatch(text, start, start + len(part))
        if one is not None and _phone_ok(text, one):
            out.append(_span(one, "PHONE"))
        start += len(part) + 3
    return out


SHORT_DATE = re.compile(r"\b\d{1,2}[./]\d{1,2}[./]\d{2}(?![\d./])")


def find_birth_dates(text: str, dates: list[Span] | None = None) -> list[Span]:
    """Dates with a birth cue: full dates, and "geb. 14.3.90" with a two-digit year. `dates`:
    the text's `find_dates`, where the caller has them (one scan of the date pattern, not
    two)."""
    found: list[Span] = []
    if not DIGIT.search(text):
        return found
    full = find_dates(text) if dates is None else dates
    short = [_span(m, "DATE") for m in SHORT_DATE.finditer(text)]
    for d in [*full, *short]:
        cued = BIRTH_BEFORE.search(text[max(0, d.start - 50) : d.start])
        cued = cued or BIRTH_AFTER.match(text[d.end : d.end + 80])
        if cued or _answers_birth_question(text, d.start) or _life_span(text, d):
            found.append(Span(d.start, d.end, "DOB", d.text))
    lower = text.lower()
    if any(word in lower for word in BIRTHDAY_WORDS):  # substring tests: far cheaper than it
        for m in [*YEARLESS.finditer(text), *YEARLESS_BEFORE.finditer(text)]:
            found.append(Span(m.start("date"), m.end("date"), "DOB", m.group("date")))
    return found


def _life_span(text: str, date: Span) -> bool:
    """A date followed by one at least two years later, as a life's span is written (not a
    booking's "12.03.2024 - 14.03.2024")."""
    after = LIFE_SPAN.match(text, date.end)
    born = date.text[-4:]  # a date's year, where it ends with one
    return after is not None and born.isdigit() and int(after.group(1)) - int(born) >= 2


def _answers_birth_question(text: str, start: int) -> bool:
    """A date that opens a reply to a message asking for a birth date ("dein geburtsdatum?"
    / "Dennis: 13.04.1984")."""
    line_start = text.rfind("\n", 0, start) + 1
    if line_start == 0 or not REPLY_HEAD.fullmatch(text, line_start, start):
        return False
    asked_start = text.rfind("\n", 0, max(0, text.rfind("\n", 0, line_start - 1))) + 1
    return BIRTH_WORD.search(text, asked_start, line_start) is not None  # two lines up


def find_dates(text: str) -> list[Span]:
    """Every date, birth date or not (kept out of phone numbers)."""
    return [_span(m, "DATE") for m in DATE.finditer(text)] if DIGIT.search(text) else []
