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
SEVERAL = rf"{INITIALS}(?:\s?(?:/|\+|&|,|and|und|u\.)\s?{INITIALS})*"
ITEM = re.compile(rf"(?<![\w'])({INITIALS})")
DEFINED = re.compile(
    r"(?P<name>[A-ZÀ-Þ][^\W\d_]+(?:[ -][A-ZÀ-Þ][^\W\d_'.]+){1,3}) \((?P<initials>[A-ZÄÖÜ]{2,3})\)"
)
OWNER = re.compile(
    rf"(?:→|->|=>|\bcover ?=|\bdurch|\bowner:?|\bverantwortlich:?) ?(?<![\w'])({SEVERAL})"
)
# A note's line: a bullet or a heading's colon, two letters, then a verb or "to" and a verb
# (three capitals there are more often an acronym: "DPD update", "PSA for anyone").
PAIRED = rf"[A-ZÄÖÜ]{{2}}(?:'[A-Z])?(?![\w'])(?:\s?(?:/|\+|&|,|and|und|u\.)\s?{INITIALS})*"
LEAD = re.compile(
    rf"(?m)(?:^[ \t]*(?:[-*•·]|\d{{1,2}}[.)])?[ \t]*|: )(?<![\w'])({PAIRED})"
    r"(?= (?:to [a-z]|[a-zäöüß]{3,}\b))"
)
# Two owners of one task: "FA + RK" (not "DD/MM", "FIT & FUN").
PAIR = re.compile(rf"(?<![\w'])({INITIALS} ?\+ ?{INITIALS})")
ACRONYMS = wordset(
    "it hr po pm am ceo cfo cto coo ok tv uk us eu eg og dg ug kw top ap jf pr qa ux ui ai id "
    "ip pdf csv api sql aob eta fyi nb ps gp nhs db faq icu op sms dm vat tbc tbd ooo wfh mvp "
    "kpi okr sla roi crm erp re aw wg tn bu cc bcc ct ekg bmi er imo btw lol omg idk tbh asap "
    "eod eow cob pto dob nda sop rfp rfc ci cd uat dev ops seo cms url usb vpn lan dsl pc hq "
    "ag kg se ltd llc inc plc bv sa nv ev ii iii iv vi vii viii ix xi xii gmbh ft pt mo di mi "
    "do fr sa so mon tue wed thu fri sat sun dr mr mrs ms no nr ca st rd nd th ggf bzw usw evtl "
    "zb ua vs hw sw kw ab ap mfg lg vg sre dpd ups dhl psa vps gls tnt dd mm yy en de"
)


def _of(text: str, m: re.Match[str], group: int = 1) -> list[Span]:
    return [
        Span(item.start(1), item.end(1), "PERSON", item.group(1))
        for item in ITEM.finditer(text, m.start(group), m.end(group))
        if item.group(1).replace("'", "").lower() not in ACRONYMS
    ]


TWO_CAPITALS = re.compile(r"[A-ZÄÖÜ]{2}")


def find_initials(text: str) -> list[Span]:
    """Initials standing for people in one text (see the module docstring)."""
    found: list[Span] = []
    if not TWO_CAPITALS.search(text):
        return found
    for m in DEFINED.finditer(text):
        words = re.split(r"[ -]", m.group("name"))
        first_letters = "".join(w[0] for w in words)
        ini = m.group("initials")
        if ini in (first_letters, first_letters[0] + first_letters[-1]):
            found.append(Span(m.start("initials"), m.end("initials"), "PERSON", ini))
    for pattern in (OWNER, LEAD, PAIR):
        for m in pattern.finditer(text):
            found += _of(text, m)
    return found
