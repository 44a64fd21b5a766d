"""Initials that stand for people, as meeting notes and task lists write them: defined after a
name ("Jana Krüger (JK)"), a task's owner after an arrow or "cover =" ("-> RK", "→ JK/PW"),
and the first words of a note's line when a verb follows ("- JB said", "SR to draft", "MD
klärt"). A team's acronyms (IT, HR, AOB, TOP) are never initials; found once, an initial is
found wherever else the request writes it (in `detect.py`'s request-wide pass)."""

from __future__ import annotations

import re

from corral.privacy.gazetteer import wordset
from corral.privacy.patterns import Span

INITIALS = r"[A-ZÄÖÜ]{2}'?[A-Z]?(?![\w'])"
JOIN = r" ?(?:/|\+|&|,|and|und|u\.) ?"
# Every run of two or three capitals is looked at where it stands: one scan of the text, where
# a pattern per place (bullet, arrow, colon) tried at every position cost five times as much.
TOKEN = re.compile(rf"(?<![\w']){INITIALS}")
# "Jana Krüger (JK)": the bracket is looked for first, then the name before it.
BRACKETED = re.compile(r" \(([A-ZÄÖÜ]{2,3})\)")
NAME_BEFORE = re.compile(r"[A-ZÀ-Þ][^\W\d_]+(?:[ -][A-ZÀ-Þ][^\W\d_'.]+){1,3}$")
# A task's owners after an arrow or "cover =": "-> RK", "→ JK/PW", "durch JK".
OWNER_BEFORE = re.compile(
    rf"(?:→|->|=>|\bcover ?=|\bdurch|\bowner:?|\bverantwortlich:?) ?(?:{INITIALS}{JOIN})*$"
)
# A note's line: a bullet or a heading's colon, two letters, then a verb or "to" and a verb
# (three capitals there are more often an acronym: "DPD update", "PSA for anyone").
LEAD_BEFORE = re.compile(r"(?:(?:^|\n)[ \t]*(?:[-*•·]|\d{1,2}[.)])?[ \t]*|: )$")
VERB_AFTER = re.compile(r" (?:to [a-z]|[a-zäöüß]{3,}\b)")
OWNER_COLON = re.compile(r": [a-zA-ZäöüÄÖÜ]")  # "- SNB: letter to Area Office"
# Two owners of one task: "FA + RK" (not "DD/MM", "FIT & FUN").
PAIR_AFTER = re.compile(rf" ?\+ ?{INITIALS}")
PAIR_BEFORE = re.compile(rf"(?:{INITIALS}|[A-ZÀ-Þ][^\W\d_]+) ?\+ ?$")  # "Hùng + SL" too
TWO_CAPITALS = re.compile(r"[A-ZÄÖÜ]{2}")  # a text without them has no initials
ACRONYMS = wordset(
    "it hr po pm am ceo cfo cto coo ok tv uk us eu eg og dg ug kw top ap jf pr qa ux ui ai id "
    "ip pdf csv api sql aob eta fyi nb ps gp nhs db faq icu op sms dm vat tbc tbd ooo wfh mvp "
    "kpi okr sla roi crm erp re aw wg tn bu cc bcc ct ekg bmi er imo btw lol omg idk tbh asap "
    "eod eow cob pto dob nda sop rfp rfc ci cd uat dev ops seo cms url usb vpn lan dsl pc hq "
    "ag kg se ltd llc inc plc bv sa nv ev ii iii iv vi vii viii ix xi xii gmbh ft pt mo di mi "
    "do fr so mon tue wed thu fri sat sun dr mr mrs ms no nr ca st rd nd th ggf bzw usw evtl "
    "zb ua vs hw sw ab mfg lg vg sre dpd ups dhl psa vps gls tnt dd mm yy en de"
)


def _stands_for_a_person(text: str, m: re.Match[str]) -> bool:
    """Whether the run of capitals at m stands where an owner's initials stand."""
    before = text[max(0, m.start() - 24) : m.start()]
    if OWNER_BEFORE.search(before) or PAIR_BEFORE.search(before):
        return True
    if PAIR_AFTER.match(text, m.end()):
        return True
    if not LEAD_BEFORE.search(before):
        return False
    if before.endswith(("-", "*", "•", "·", "- ", "* ", "• ", "· ")) and OWNER_COLON.match(
        text, m.end()
    ):
        return True  # a bullet's owner before a colon
    two = len(m.group(0).replace("'", "")) == 2 or "'" in m.group(0)
    return two and bool(VERB_AFTER.match(text, m.end()))


def find_initials(text: str) -> list[Span]:
    """Initials standing for people in one text (see the module docstring)."""
    found: list[Span] = []
    if not TWO_CAPITALS.search(text):
        return found
    for m in BRACKETED.finditer(text):
        name = NAME_BEFORE.search(text, max(0, m.start() - 60), m.start())
        if name is None:
            continue
        first_letters = "".join(w[0] for w in re.split(r"[ -]", name.group(0)))
        if m.group(1) in (first_letters, first_letters[0] + first_letters[-1]):
            found.append(Span(m.start(1), m.end(1), "PERSON", m.group(1)))
    for m in TOKEN.finditer(text):
        if m.group(0).replace("'", "").lower() in ACRONYMS:
            continue
        if _stands_for_a_person(text, m):
            found.append(Span(m.start(), m.end(), "PERSON", m.group(0)))
    return found
