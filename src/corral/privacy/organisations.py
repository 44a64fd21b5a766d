"""An organisation's own contact details are not personal data: a letterhead's address and
switchboard, a hotline, a role mailbox (`info@`, `support@`, `kundenservice@`), a name that is
the first word of a firm's or a building's (`Greenleaf Energy`, `St. Luke's`). The guard leaves
them for the answer to use. Only what its context marks as an organisation's is let go; a value
with no such context stays masked (a miss leaks, a false positive costs a word).
"""

from __future__ import annotations

import re
from bisect import bisect_left

from corral.privacy.cues import JOB_TITLES, ORGANISATION_WORDS, STREET_WORDS
from corral.privacy.gazetteer import is_german, wordset
from corral.privacy.patterns import Span

ROLE_WORDS = wordset(
    "info information support help helpdesk hello contact contacts enquiries enquiry inquiries "
    "inquiry noreply no-reply donotreply do-not-reply reply reception office admin "
    "administration team service services customer customers care customercare sales quotes "
    "orders order bookings booking reservations accounts ap ar billing invoices invoice "
    "payments careers jobs recruitment hr people alumni admissions press media news "
    "newsletter marketing alerts alert notifications notification security phishing abuse "
    "legal compliance facilities it payroll finance arrangements member members "
    "relations feedback complaints claims webmaster postmaster mail post events appointments "
    "school secretary general enquiry frontdesk shop store "
    "kontakt kundenservice kundendienst service-center buchhaltung rechnung rechnungen "
    "verwaltung praxis sekretariat bewerbung bewerbungen personal datenschutz anmeldung "
    "termine termin redaktion vertrieb einkauf zentrale poststelle buero büro bestellung "
    "bestellungen vermietung geschaeftsstelle geschäftsstelle mitglieder"
)
"""Words a role mailbox's local part is made of (`customer.services@`, `hr.recruitment@`)."""
SERVICE_NUMBERS = (
    ("0800", 9, 11),  # freephone: UK, Germany, Austria, Switzerland, New Zealand, S. Africa
    ("0808", 10, 11),  # UK freephone
    ("0843", 11, 11),  # UK shared cost (not 03xx: a Pakistani mobile or Leipzig's 0341)
    ("0844", 11, 11),
    ("0845", 11, 11),
    ("0870", 11, 11),
    ("0871", 11, 11),
    ("0872", 11, 11),
    ("0873", 11, 11),
    ("0500", 10, 11),
    ("0508", 9, 10),  # New Zealand
    ("0180", 9, 12),  # Germany's service numbers
    ("0900", 9, 12),
    ("0137", 9, 12),
    ("0810", 10, 13),  # Austria
    ("0820", 10, 13),
    ("0840", 10, 10),  # Switzerland
    ("0842", 10, 10),
    ("0844", 10, 10),
    ("0848", 10, 10),
    ("0818", 10, 10),  # Ireland
    ("1800", 10, 12),  # Ireland, Australia, India
    ("1850", 10, 10),
    ("1890", 10, 10),
    ("1300", 10, 10),  # Australia
    ("0860", 10, 10),  # South Africa
    ("0861", 10, 10),
    ("0700", 11, 11),  # Nigeria
)
"""Freephone, shared-cost and service numbers (prefix, fewest and most digits): no private
person has one."""
UK_NON_GEOGRAPHIC = re.compile(r"^03\d\d \d{3} \d{4}$|^03\d{3} \d{3} \d{3}$")
"""UK 03 numbers as Britain writes them ("0345 600 2288"): Pakistan writes its 03 mobiles
"0300 5127749", and Germany's 03 area codes (Leipzig 0341) are left to German text."""
TOLL_FREE_NANP = re.compile(
    r"^(?:\+?1[ .-]?)?\(?8(?:00|33|44|55|66|77|88)\)?[ .-]?\d{3}[ .-]?\d{4}$"
)
FIRST_GROUP = re.compile(r"\+?\d+")
ORG_LABEL = re.compile(
    r"(?i)\b(?:store|retailer|collection point|pick-?up (?:point|shop)|venue|depot|site"
    r"|registered office|head office|(?:ready to )?collect from"
    r"|customer (?:services?|care|relations)|claims(?: line)?|help ?line|hot ?line|help ?desk"
    r"|free ?phone|toll[- ]free|(?:tele)?fax|switchboard|main(?: office)?|reception"
    r"|front (?:desk|office)|appointments|bookings?|queries|(?:general )?enquiries|info"
    r"|trunkline|advice ?line|fraud line|(?:conference )?bridge(?: is)?|dial-?in(?: is)?"
    r"|(?:call|contact|reach|ring) us(?: on| at)?"
    r"|our [\w ]{0,24}?(?:line|team|office|desk|number)(?: is)?(?: on| at)?"
    r"|(?:the|your) (?:school |main |front |payroll |head )?"
    r"(?:office|practice|surgery|store|shop|clinic|ward|branch|reception|switchboard)"
    r"(?: is)?(?: on| at)?|zentrale|telefonzentrale|service-?hotline|servicetelefon"
    r"|service-?nummer|servicecenter|kundenservice|kundendienst|sekretariat|empfang"
    r"|terminvereinbarung|geschäftsstelle|(?:erreichen sie uns|rufen sie uns an)(?: unter)?"
    r"|(?:kostenlos|kostenfrei) unter)"
    r"[ \t]*[:.,-]?[ \t]*\(?$"
)
"""A label before a value that names it an organisation's line or desk."""
ORG_AFTER = re.compile(
    r"(?i)[ \t]*\((?:office|switchboard|main|reception|kostenfrei|kostenlos|toll[- ]free"
    r"|free|zentrale|mon|monday|tue|mo|daily|24/7|24 hours|weekdays|open|[\w ]{1,20} office)\b"
)
"""After a value, what makes it an organisation's: "(switchboard)", opening hours."""
PERSONAL_LABEL = re.compile(
    r"(?i)\b(?:mobile?|mob|cell|direct|dd|durchwahl|handy|mobil|private?|privat|home|my|mine"
    r"|me|meine?|mir)\b[^\n]{0,20}$"
)
"""A label that makes a number a person's own, whatever the block around it."""
COMPANY_FORM = re.compile(
    r"(?i)& co\b|\b(?:ltd|limited|plc|llc|llp|inc|corp|corporation|company|gmbh|mbh|ag|kg|eg|e\.v"
    r"|pty|pvt|bhd|s\.a|sarl|bv|nv)\b"
)
ORG_NEXT = ORGANISATION_WORDS | wordset(
    "Energy Insurance Health Medical Dental Bank Property Properties Building Police Cave Cup "
    "Textiles Resort Solutions Supplies Lettings Motors Logistics Plumbing Heating Roofing "
    "Builders Construction Chapel Mosque Temple Theatre Club Airlines Estates Homes Group Plc "
    "LLP LLC Ltd Inc GmbH AG Interiors Electrical Law Legal Funeral Funerals Directors "
    "International Financial Memorial Healthcare Pharma Foods Farms Brewery Hotels Travel Tours "
    "Media Digital Technologies Systems Software Labs Capital Holdings Industries Enterprises "
    "Trading Imports Exports Garage Autos Kitchen Kitchens Spa Dentistry Optometry Opticians "
    "Veterinary Vets Accountants Architects Engineering Agritech Fintech Gallery Arena Stores "
    "Supermarket Advisors Advisers Management Rentals Technology Broadband Cloud Harriers Rovers "
    "United Athletic Wanderers FC Announcements"
)
"""Words after a name that make it a firm's or a building's: "Greenleaf Energy", "Harrison's
Cave", "O'Connor & Walsh LLP"."""
NEXT_LOWER = {w.lower() for w in ORG_NEXT}
ORG_NAME_WORDS = NEXT_LOWER | wordset(
    "council water authority court tribunal practice surgery revenue customs church parish "
    "society association federation institute housing airways railways borough telecom nhs "
    "department dept division ministry embassy consulate registry unit bibliothek hmrc kasse "
    "stadt landeshauptstadt gemeinde bkk aok ikk dak sparkasse volksbank raiffeisenbank "
    "commerzbank postbank "
    "jobcenter agentur fachbereich abteilung"
)
"""Words that make a short line written as a name an organisation's: "Bristol City Council",
"Department of Cardiology", "BKK Nordlicht"."""
GERMAN_ORG_ENDINGS = (
    *("amt", "behörde", "center", "zentrum", "verwaltung", "schule", "klinik", "klinikum"),
    *("bibliothek", "werke", "kasse", "versicherung", "apotheke", "praxis", "kanzlei", "büro"),
    *("gymnasium", "sekretariat", "abteilung", "stiftung", "verein", "gesellschaft", "dienst"),
    *("genossenschaft", "service", "gericht", "polizei", "ministerium", "rathaus", "ordnung"),
    "stelle",
)
"""How a German office's or firm's word ends: "Finanzamt", "Gesamtschule", "Stadtwerke"."""
FIRM_AFTER = re.compile(
    rf"( (?:&|and|und) (?:Sons|Daughters|Co|Partners|Söhne|Töchter)\b)"
    rf"|['\u2019]s ({'|'.join(sorted(STREET_WORDS))})\b"
    r"|(?:['\u2019]s)?(?: (?:&|and|und) [A-Z][\w'\u2019]+)?((?: [A-Z][\w'\u2019.-]*){1,3})"
)
PLACE_WORDS_DE = wordset("Am An Im In Auf Zum Zur")
"""After a school's or an office's word, the start of where it is: "Gesamtschule Am Lindenhof"."""
SAINT = re.compile(r"(?:\bSt\.?|\bSaint|\bSankt|\bSan|\bSanta|\bSão) $")
LABEL_MAX = 48
"""Characters before a value searched for its label ("Customer Services:", "call me on")."""
BLOCK_LINES = 6
"""Lines above a value searched for what heads its block (a letterhead is rarely longer)."""
LINE_MAX = 200
"""Characters looked back for a line's start: a text of one endless line stays linear."""
CONNECTORS = wordset("of for and the & de der die das des für und am im an la le du van von zu")
PHONE_LABEL = re.compile(r"(?i)\b(?:tel|telephone|telefon|phone|ph|t|p|fon)\.?[ \t]*:?[ \t]*\(?$")
TRAILING_NAME = re.compile(
    r"(?:[A-ZÄÖÜ][\w'\u2019&.-]*|&)"
    r"(?: (?:[A-ZÄÖÜ][\w'\u2019&.-]*|&|of|for|and|der|für|und|plc|ltd|inc|llc|llp|gmbh|mbh))*$"
)
"""The capitalised words a label or a sentence ends with: "Pls call [Ranelagh Medical]"."""
AT = re.compile(r" (?:on|at|unter|über)$")
SEPARATOR = re.compile(r"[,|·•(\u2013]| - ")


def is_role_mailbox(address: str) -> bool:
    """`support@`, `customer.services@`, `hr.recruitment@`: every part of the local part is a
    role's word."""
    local = address.partition("@")[0].lower()
    parts = [p for p in re.split(r"[._+-]", local) if p]
    return bool(parts) and (local in ROLE_WORDS or all(p in ROLE_WORDS for p in parts))


def is_service_number(number: str, german: bool = False) -> bool:
    """A freephone, shared-cost or service number."""
    number = number.strip()
    if TOLL_FREE_NANP.match(number):
        return True
    if not german and UK_NON_GEOGRAPHIC.match(number):
        return True
    digits = re.sub(r"\D", "", number)
    first = FIRST_GROUP.match(number)
    if number.startswith("+") or first is None:
        return False  # an international form: its country's prefixes are not listed here
    for prefix, fewest, most in SERVICE_NUMBERS:
        if digits.startswith(prefix) and fewest <= len(digits) <= most:
            # written as a group of its own: "08431 ..." is a Bavarian town's area code
            group = len(first.group())
            return group == len(prefix) or (prefix == "0180" and group == 5)
    return False


def organisation_line(line: str) -> bool:
    """A short line written as a name that names an organisation: "Bristol City Council",
    "Department of Cardiology", "Brenntal Medizintechnik GmbH", "Finanzamt Köln-Mitte"."""
    line = line.strip(" \t>|·-\u2013,:")
    words = line.split()
    if not words or len(words) > 9 or any(ch.isdigit() or ch == "@" for ch in line):
        return False
    if any(w[0].islower() and w not in CONNECTORS for w in words):
        return False  # a sentence, not a name
    if COMPANY_FORM.search(line) or any(map(_german_organisation, words)):
        return True
    return any(w.strip(",.()").lower() in ORG_NAME_WORDS for w in words)


def organisation_spans(text: str, spans: list[Span]) -> set[Span]:
    """Those of the spans that an organisation's context marks as its own. The detector keeps
    them while it picks spans that do not overlap, so that no shorter value inside one
    ("bewerbung" of a role mailbox, "2 Drury Way" of a shop's address) is taken for a person's,
    and drops them after."""
    firms = {s for s in spans if s.label == "PERSON" and _firm_name(text, s)}
    people = sorted(s.start for s in spans if s.label == "PERSON" and s not in firms)
    german = is_german(text)
    return firms | {s for s in spans if _organisations(text, s, people, german)}


def _organisations(text: str, span: Span, people: list[int], german: bool) -> bool:
    """Whether a mailbox, number or address is an organisation's: by its own form (a role
    mailbox, a service number), its label, the hours after it, the firm that starts its line
    or address, or the letterhead it stands under; a person's label or name on its line keeps
    it theirs."""
    if span.label == "EMAIL":
        return is_role_mailbox(span.text)
    if span.label not in ("PHONE", "ADDRESS"):
        return False
    line_start = _line_start(text, span.start)
    before = text[line_start : span.start]
    near = before[-LABEL_MAX:]
    if PERSONAL_LABEL.search(near):
        return False
    if ORG_LABEL.search(near) or ORG_AFTER.match(text, span.end):
        return True
    if span.label == "PHONE" and is_service_number(span.text, german):
        return True
    if span.label == "ADDRESS" and any(
        organisation_line(SEPARATOR.split(line)[0]) for line in span.text.split("\n")[:3]
    ):
        return True  # an organisation's name starts it: "Westpac Group, 275 Kent St, ..."
    if _person_in(people, line_start, span.start):
        return False  # a person's line: "Dr. Martina Koch, Robert Bosch GmbH, Tel. ..."
    head = PHONE_LABEL.sub("", before).rstrip(" \t,·|\u2013-(")
    if head.endswith(":"):
        return False  # a field's label: "Property: Apartment 7B, ..."
    clause = re.split(r"[.!?] ", head)[-1].lstrip("> ")  # the sentence the value ends
    for segment in SEPARATOR.split(clause) if clause else ():
        name = TRAILING_NAME.search(AT.sub("", segment.strip()))
        if name is not None and " " in name.group() and organisation_line(name.group()):
            return True  # "Klinikum Nordstadt, Haltenhoffstraße 41", "call Ranelagh Medical on"
    if len(head) > 12:
        return False  # a sentence runs up to it
    return _heading(text, line_start, people, span.label == "PHONE") == "organisation"


def _line_start(text: str, pos: int) -> int:
    """Where the line holding pos starts, looking back at most LINE_MAX characters."""
    floor = max(0, pos - LINE_MAX)
    return max(text.rfind("\n", floor, pos) + 1, floor)


def _person_in(people: list[int], start: int, end: int) -> bool:
    """Whether a person's name (their sorted starts) begins in [start, end)."""
    i = bisect_left(people, start)
    return i < len(people) and people[i] < end


def _heading(text: str, line_start: int, people: list[int], phone: bool) -> str | None:
    """What heads the block a value's line is in: the nearest line above that names an
    organisation or holds a person's name; None at a blank line or the text's start. A phone
    under a person's name and their firm's is theirs (a signature's direct line)."""
    end = line_start - 1
    found = None
    for _ in range(BLOCK_LINES):
        if end <= 0:
            break
        start = _line_start(text, end)
        line = text[start:end]
        if not line.strip():
            break
        named = organisation_line(line)
        if named and not phone:
            return "organisation"
        if _person_in(people, start, end):
            return "person"
        if named:
            found = "organisation"
        end = start - 1
    return found


def _german_organisation(word: str) -> bool:
    """A capitalised word with an office's or a firm's German ending ("Finanzamt")."""
    return word[:1].isupper() and word.strip(",.:;()").lower().endswith(GERMAN_ORG_ENDINGS)


def _firm_name(text: str, span: Span) -> bool:
    """A name that begins a firm's or a building's name, or a saint's ("St. Luke's"), or
    that is a firm's ("Hausverwaltung Krüger GmbH", "Gesamtschule Am Lindenhof")."""
    words = span.text.split()
    last = words[-1].rstrip(".,")
    if len(words) > 1 and (
        last.lower() in NEXT_LOWER or last in JOB_TITLES or COMPANY_FORM.search(span.text)
    ):
        return True  # "Greenkey Lettings", "Wu Solicitors", "Data Engineer", "Söhne GmbH"
    rest = [w for w in words if not _german_organisation(w)]
    if len(rest) < len(words) and (not rest or rest[0] in PLACE_WORDS_DE):
        return True
    if SAINT.search(text, max(0, span.start - 6), span.start):
        return True
    if words[-1].endswith("Bot"):
        return True  # "JenkinsBot: Build failed"
    if text.startswith(":", span.end) and ORG_LABEL.match(span.text):
        return True  # a desk's label read as a chat's sender: "Queries: 020 8943 1120"
    m = FIRM_AFTER.match(text, span.end)
    if m is None:
        return False
    if m.group(1) is not None or m.group(2) is not None:
        return True  # "Ogunleye & Daughters", "Pike & Sons"; "James's Street"
    return any(w.rstrip(".,").lower() in NEXT_LOWER for w in m.group(3).split())
