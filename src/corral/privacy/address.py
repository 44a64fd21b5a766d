"""Postal addresses: street lines with a house number in US, UK/IE/AU/NZ/IN/ZA, French,
Polish and German forms ("Flat 2, 47 Cowley Road, Oxford OX4 1HP", "12 Rue de la Paix, 75002
Paris", "Unter den Linden 77", "Mariahilfer Straße 88/3/12, 1070 Wien"), and PO boxes."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from corral.privacy.patterns import DE_ADDRESS, DE_LOWER, DE_LOWER_MARK, DE_PART, DIGIT, Span

UPW = r"[A-ZÀ-ÖØ-ÞĀ-Ž][\w'\u2019-]*"
# "Kingston upon Thames", "Dublin 9, D09 X2K7"
CITY = rf"{UPW}(?: (?:upon |on |under |le |sur |am )?{UPW}){{0,2}}(?: \d{{1,2}}(?=,))?"
COUNTY = r"(?:Co\. |County )?"  # Ireland's "Ballina, Co. Mayo F26 K2W9"
POSTCODE = (  # UK, Canada, Ireland's Eircode ("D09 X2K7"), Poland, and plain digits
    r"(?:[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|[A-Z]\d[A-Z] ?\d[A-Z]\d|[A-Z]\d[\dW] ?[A-Z\d]{4}"
    r"|\d{2}-\d{3}|\d{4,6})(?!\w)"
)
SEP = r"(?:,[ ]?|\n)"
# The town, after a district ("Te Aro, Wellington 6011") or on lines of its own ("Harrogate\n
# HG2 8QL"); only with a postcode, which a run of capitalised words after a street lacks.
STATES = (  # US states' and Canadian provinces' codes: "Maple Ridge, BC" ends an address
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH"
    "|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY"
    "|AB|BC|MB|NB|NL|NS|NT|NU|ON|PE|QC|SK|YT"
)
UNIT_AFTER = r"(?:,[ ]?(?:[Aa]pt|[Aa]partment|[Uu]nit|[Ss]uite|[Aa]pp|[Aa]ppt)\.? ?#?[\w-]{1,5})?"
"""A flat's number after the street: "1184 rue Saint-Denis, apt 3, Montréal QC H2X 3J8"."""
TAIL = (
    rf"{UNIT_AFTER}(?:{SEP}(?:{CITY}{SEP})?(?:{COUNTY}{CITY}(?: [A-Z]{{2,3}})?(?:,? |\n){POSTCODE}"
    rf"|{POSTCODE} {CITY}|{CITY},? [A-Z]{{2}} \d{{5}}(?:-\d{{4}})?"
    rf"|{CITY},? (?:{STATES})(?![\w-]| [a-z]))"
    rf"|{SEP}(?:{CITY}{SEP})?{UPW}(?: {UPW})? State\b)?"  # "15 Ogui Road, Enugu, Enugu State"
)
UNIT = (
    r"(?:(?:Flat|Unit|Apartment|Apt\.?|Suite|Plot|Studio|Room)\s+\w{1,5},?\s+"
    r"|\d{1,2}(?:st|nd|rd|th) Floor,\s+)"
)
FR_TYPES = r"(?i:rue|avenue|av\.|boulevard|bd|place|chemin|allée|impasse|quai|cours|route)"
BUILDINGS = r"(?:Tower|Towers|House|Building|Court|Residence|Residences|Heights|Mansions|Block)"
BUILDING_ADDRESS = re.compile(  # a home in a named building: no room of an office
    rf"(?:Flat|Unit|Apartment|Apt\.?|Suite) \w{{1,5}},? (?:{UPW} ){{1,3}}{BUILDINGS}\b"
    rf"(?:, {CITY}){{0,3}}"
)
PO_BOX = re.compile(
    rf"\b(?:P\.? ?O\.? ?Box|Post Office Box|Private Bag|Postfach|RR \d{{1,3}},? Box)"
    rf"\s+\d(?:[\d ]|-(?=\d)){{0,12}}\d?"
    rf"(?:,? (?:{POSTCODE} {CITY}|{CITY}(?: {POSTCODE})?))?"
)
FR_ADDRESS = re.compile(
    rf"\b\d{{1,4}}(?: ?(?:bis|ter))?,? {FR_TYPES}(?: (?:de la |de l'|du |des |de )?{UPW}){{1,4}}"
    rf"{TAIL}"
)
# Portuguese, Spanish and Italian streets, the house number after the name ("Rua Augusta,
# 1508, apto 52"), to a Brazilian CEP within the line when there is one.
SOUTH_TYPES = (
    r"(?:Rua|Avenida|Av\.|Travessa|Alameda|Praça|Calle|Carrer|Paseo|Via|Viale|Corso|Largo)"
)
SOUTH_ADDRESS = re.compile(
    rf"\b{SOUTH_TYPES} (?:(?:d[aeo]s?|de la|del|di|della) )?{UPW}(?: {UPW}){{0,3}},? "
    r"(?:n[º°o]\.? ?)?\d{1,5}[A-Za-z]?(?:,? (?:apto|apt|sala|piso|bloco|casa)\.? ?\w{1,5})?"
    rf"(?:,[^\n]{{0,60}}?\b\d{{4,5}}-\d{{3}}\b(?: {CITY})?|,? \d{{4,5}} {CITY})?"
)
SOUTH_WORDS = ("rua ", "avenida", "travessa", "alameda", "praça", "calle ", "carrer", "via ")
# Indian addresses: "No. 14, 3rd Cross, Jayanagar 4th Block, Bengaluru 560011", to the PIN.
IN_ADDRESS = re.compile(r"\b(?:No\.|#) ?\d{1,5}[A-Z]?, [^\n]{3,80}?\b\d{3} ?\d{3}\b")
# Addresses led by a house, block or flat number, through comma-separated parts (landmarks
# too: "opp. Quickmart") to a town and its postcode, or to a city whose addresses have none:
# "House 4, Road 12, Independence Layout, Enugu 400102", "B-204, Prestige Shantiniketan,
# Whitefield, Bengaluru 560048", "Blk 7 Lot 15, Camella Homes, ..., Cavite 4102, Philippines",
# "Flat C, 18/F, Block 2, Kornhill Gardens, Quarry Bay, Hong Kong". Each part starts with a
# capital, a digit, "#" or a landmark's word, so a sentence ("No. 4471, due 30 June, total EUR
# 1200") is not one.
LEAD = (
    r"(?:(?:No\.?|NO\.?|#|Blk\.?|Block|(?:House|Hse\.?)(?: No\.)?|Plot|Lot) ?[A-Z]?\d{1,5}"
    r"(?:/\d{1,4})?[A-Z]?|[A-Z]-\d{1,4}"  # "House No. C142/7"
    r"|(?:Flat|Apartment|Apt\.?|Villa|Unit|Room|Rm\.?)(?: No\.)? [A-Z\d][\w/-]{0,5})"
)
LEAD_WORDS = (
    *("No.", "No ", "NO ", "#", "Blk", "Block", "House", "Hse", "Plot", "Lot", "Flat"),
    "Apartment",
    "Apt",
    *("Villa", "Unit", "Room", "Rm"),
)
FLAT_LEAD = re.compile(r"(?<=\b[A-Z])-\d{1,4}, ")  # "B-204, ": its "-" is searched for first
NO_POSTCODE = (  # cities whose addresses end without a postcode
    r"(?:Hong Kong|Kowloon|New Territories|Dubai|Abu Dhabi|Sharjah|Ajman|Al Ain|Doha|Riyadh"
    r"|Jeddah|Muscat|Manama|Kuwait City|Lagos|Abuja|Ibadan|Port Harcourt|Nairobi|Mombasa"
    r"|Kisumu|Accra|Kumasi|Kampala|Dar es Salaam|Kigali|Addis Ababa|Lusaka|Harare|Kano|Kaduna"
    r"|Owerri|Benin City|Tema|Takoradi|Islamabad|Rawalpindi|Lahore|Karachi|Peshawar|Quetta"
    r"|Multan|Faisalabad|Dhaka|Chittagong|Colombo|Kathmandu)\b"
)
PART = r"(?:(?:off|opp\.?|near|behind|beside|next to) )?[#A-Z\d][^,\n]{0,40}"
LED_ADDRESS = re.compile(
    rf"(?<![\w#-]){LEAD}(?: [^,\n]{{1,40}})?,[ \n](?:{PART},[ \n]){{0,6}}"  # a part a line too
    rf"(?:(?:{UPW} ){{1,3}}(?:[\u2013-] )?\d{{4,6}}\b|(?:{UPW} ){{1,2}}State\b|{NO_POSTCODE}"
    rf"|\d{{5}} {UPW}(?: {UPW}){{0,2}}(?:, {UPW}\b)?)"  # "47300 Petaling Jaya, Selangor"
    rf"(?:, [A-Z]{{2}}-\d{{3,4}}-\d{{4}}\b)?"  # Ghana's GPS address: "Accra, GA-183-8164"
    rf"(?:, {UPW}(?=[ \t]*(?:\n|$)))?"
)
# UK, Irish, Canadian, Australian and US addresses by their postcode, whatever comes before it:
# named houses and streets without a number ("Rose Cottage, Church Lane, Little Budworth,
# Tarporley CW6 9BY", "Apt 6, The Maltings, Bow Street, Dublin 7, D07 N2F4", "Unit 5/12
# Kingsway, Cronulla NSW 2230"), up to four parts on a line or lines of their own; a part
# starting with a title is a name above the address, not a part of it.
ANCHOR = (
    r"(?:[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|[A-Z]\d[A-Z] ?\d[A-Z]\d|[A-Z]\d[\dW] ?[A-Z\d]{4}"
    r"|(?:NSW|VIC|QLD|SA|WA|TAS|NT|ACT) \d{4}|[A-Z]{2} \d{5}(?:-\d{4})?)(?!\w)"
)
ANCHOR_SHAPE = re.compile(ANCHOR)
WORD_OR_NUMBER = rf"(?:{UPW}|\d{{1,5}}(?:/\d{{1,5}})?[A-Z]?)"
TITLED = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Herr|Frau)\b"
ADDRESS_PART = (
    rf"(?:[\"\u201c][^\"\u201d\n]{{1,24}}[\"\u201d]|(?!{TITLED})(?=[^,\n]*[^\W\d_]){WORD_OR_NUMBER}"
    rf"(?: {WORD_OR_NUMBER}){{0,4}})"
)
ANCHORED_ADDRESS = re.compile(
    rf"(?<![\w,.])(?<!\bMrs )(?<!\bMr )(?<!\bMs )(?<!\bDr )(?<![A-Z]\. )"
    rf"(?:{ADDRESS_PART}(?:, ?|\n)){{1,4}}(?:{COUNTY}{CITY}(?:,? |\n))?"
    rf"{ANCHOR}"
)
# A German street without a street type, when a postcode and town follow: "Sonnenhang 7,
# 79117 Freiburg".
DE_POSTCODE = re.compile(r"(?:, |\n)\d{5} ")
DE_PLAIN = re.compile(
    rf"\b(?:[A-ZÄÖÜ][a-zäöüß]+ ){{1,2}}\d{{1,4}}[a-zA-Z]?{DE_PART}(?:, |\n)\d{{5}} "
    r"[A-ZÄÖÜ][a-zäöüß]+(?:-[A-ZÄÖÜ][a-zäöüß]+)?"
)
PL_ADDRESS = re.compile(rf"\bul\. {UPW}(?: {UPW})? \d{{1,4}}[a-z]?(?:/\d{{1,4}})?{TAIL}")


def _trie(words: list[str]) -> str:
    """An alternation of words as a prefix tree: Python's re tries a flat alternation of 200
    street types one by one at every capitalised word."""
    if not words:
        return ""
    if len(words) == 1:
        return re.escape(words[0])
    by_first: dict[str, list[str]] = {}
    empty = False
    for w in words:
        if w:
            by_first.setdefault(w[0], []).append(w[1:])
        else:
            empty = True
    branches = [re.escape(ch) + _group(_trie(rest)) for ch, rest in sorted(by_first.items())]
    body = "|".join(branches)
    return f"(?:{body})?" if empty else f"(?:{body})"


def _group(pattern: str) -> str:
    return pattern if not pattern or pattern.startswith("(?:") else f"(?:{pattern})"


@cache
def _en_addresses() -> tuple[re.Pattern[str], re.Pattern[str]]:
    text = resources.files("corral.privacy").joinpath("data/street_types_en.txt").read_text("utf-8")
    suffix = _trie([t for t in text.split() if t])
    street = (  # "Bloor Street West", Singapore's "Ang Mo Kio Ave 10"
        rf"(?:[NSEW]\.? )?(?:(?:{UPW}|\d{{1,3}}(?:st|nd|rd|th)) ){{1,3}}(?:{suffix})\b\.?"
        r"(?: (?:North|South|East|West|NE|NW|SE|SW)\b| \d{1,3}(?=,))?"
    )
    after = r"(?:,? (?:Apt\.?|Suite|Unit|#) ?\d{1,5}[A-Z]?(?:-\d{1,5})?)?"
    number = r"\d{1,6}(?:-\d{1,5})?[A-Za-z]?"  # "2301-55 Bloor Street": a unit before the house
    numbered = re.compile(rf"(?:{UNIT}|\b\d{{1,4}}/)?\b{number},? {street}{after}{TAIL}")
    unit_only = re.compile(rf"{UNIT}{street}{after}{TAIL}")
    return numbered, unit_only


CAPITAL_LINE = re.compile(
    r"[A-ZÄÖÜ]{3,}\.? \d{1,4}[A-Z]?(?:/\d{1,4}){0,3}(?:, |\n)"
    r"|\b\d{1,5}[A-Z]? [A-ZÄÖÜ]{3,} [A-ZÄÖÜ]{3,}"
)
"""A street in capitals and its number: "BRUNNENSTR. 7A, ", "14 ASHGROVE ROAD"."""
CAPITALS_NUMBER = re.compile(r"[A-ZÄÖÜ]{3}[A-ZÄÖÜ]*\.? \d")
NUMBER_CAPITALS = re.compile(r"\d[A-Z]? [A-ZÄÖÜ]{3}")
CAPITAL_WORD = re.compile(r"\b[A-ZÄÖÜ]{3,}\b|\b[A-Z]{2}\b(?! \d| [A-Z]\d)")
UNIT_WORDS = ("Flat", "Unit", "Apartment", "Apt", "Suite", "Plot", "Studio", "Room", "Floor")
UNIT_WORD = re.compile("|".join(UNIT_WORDS))
"""Whether any of them occurs: one search, where a test per word cost a tenth of a short
prompt's scan."""
FR_WORDS = (
    *("rue ", "av.", "avenue", "bd ", "boulevard", "place ", "chemin"),
    *("allée", "impasse", "quai ", "cours ", "route "),
)
PO_WORDS = ("box", "bag", "postfach")  # "RR 2 Box 118" too
DE_WORDS = (
    *("str", "gasse", "platz", "ring", "weg", "allee", "damm", "ufer", "chaussee", "pfad"),
    "gürtel",
    *("markt", "steig", "am ", "an de", "im ", "auf de", "zum ", "zur ", "in de", "unter den"),
    *("hinter de", "vor dem", "alte", "neue", "große", "kleine"),
)


def find_addresses(text: str) -> list[Span]:
    """Street addresses with an optional town and postcode, and PO boxes."""
    numbered, unit = _en_addresses()
    # The rarer forms run only where their key word occurs: each pass costs a scan. Every form
    # but a flat's ("Flat B, Oak Street") has a house or box number.
    numbers = DIGIT.search(text) is not None
    lower = text.lower() if numbers else ""
    patterns = [numbered] if numbers else []
    if numbers and any(w in lower for w in DE_WORDS):
        patterns.append(DE_ADDRESS)
        if DE_LOWER_MARK.search(text):
            patterns.append(DE_LOWER)
    if UNIT_WORD.search(text):
        patterns += [unit, BUILDING_ADDRESS]
    if numbers and any(w in lower for w in FR_WORDS):
        patterns.append(FR_ADDRESS)
    if numbers and "ul. " in text:
        patterns.append(PL_ADDRESS)
    if numbers and any(w in lower for w in SOUTH_WORDS):
        patterns.append(SOUTH_ADDRESS)
    if numbers and ("no." in lower or "#" in text):
        patterns.append(IN_ADDRESS)
    if numbers and (any(w in text for w in LEAD_WORDS) or FLAT_LEAD.search(text)):
        patterns.append(LED_ADDRESS)
    if numbers and DE_POSTCODE.search(text):
        patterns.append(DE_PLAIN)
    if numbers and any(w in lower for w in PO_WORDS):
        patterns.append(PO_BOX)
    folded = fold_capitals(text)
    found = [m.span() for pattern in patterns for m in pattern.finditer(folded)]
    if numbers:
        found += _read_back(folded, {end for start, end in found if not _continues(folded, start)})
    return [Span(start, end, "ADDRESS", text[start:end]) for start, end in found]


NAME_BEFORE = re.compile(r"[A-Z][^\W\d_]+ $")
"""A capitalised word right before an address read back from its postcode: its first part is
the rest of a name."""
NEXT_PART = re.compile(r", ?|\n")


def _continues(text: str, start: int) -> bool:
    """Whether an address may start before `start`: a part or a line above it, or a word of
    its own ("PO Box 1908, Elk Grove": "1908, Elk Grove" reads as a street)."""
    return text.endswith((", ", "\n"), 0, start) or (
        start > 1 and text[start - 1] == " " and text[start - 2].isalnum()
    )


def _read_back(text: str, ends: set[int]) -> list[tuple[int, int]]:
    """The addresses ending at each postcode no other pattern's address ends at, searched for
    in the 200 characters before it only: the pattern tried at every capital of the text cost
    a third of a 2 KB prompt's address scan."""
    found = []
    end = 0
    for anchor in ANCHOR_SHAPE.finditer(text):
        if anchor.end() in ends:
            continue
        m = ANCHORED_ADDRESS.search(text, max(end, anchor.start() - 200), anchor.end())
        if m is not None and m.end() == anchor.end():
            start = m.start()
            after_name = NAME_BEFORE.search(text, max(0, start - 30), start)
            cut = NEXT_PART.search(text, start, m.end()) if after_name else None
            start = cut.end() if cut else start  # "Mr Hunter McAllister\n5 Braeside Gardens"
            found.append((start, m.end()))
            end = m.end()
    return found


def fold_capitals(text: str) -> str:
    """Words in capitals on a line that has an address in capitals ("BRUNNENSTR. 7A, 04179
    LEIPZIG", a form's) title-cased, so that the patterns read them; a state's or province's
    code before its postcode ("IL 60642", "ON M4W 1A5") stays. Every offset stays where it
    was."""  # the words changed are of A-Z and ÄÖÜ only, whose title case is as long
    if not (CAPITALS_NUMBER.search(text) or NUMBER_CAPITALS.search(text)):
        return text  # two simple searches: a sixth of CAPITAL_LINE's
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if CAPITAL_LINE.search(line + "\n"):  # the town may stand on the next line
            for j in (i, i + 1)[: len(lines) - i]:
                lines[j] = CAPITAL_WORD.sub(lambda m: m.group().title(), lines[j])
    return "\n".join(lines)
