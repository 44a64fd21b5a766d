"""The words around a name that tell it is one: titles, cue words and verbs before it,
greetings and closings, and the marks of a firm or a place that tell it is not (`names.py`)."""

from __future__ import annotations

import re

from corral.privacy.gazetteer import wordset

TITLE_WORDS = wordset(
    "mr mrs ms mx miss dr prof professor herr herrn frau hr fr sir dame lady lord hon rev "
    "father sister brother nurse schwester pfarrer pastor imam familie family oma opa tante "
    "onkel uncle aunt auntie aunty nana nan nani gran granny grandma grandpa grandad cousin mme "
    "mlle sra sr sheikh chief ing madam tita tito lola lolo"
)
"""Words written before a name as its title, kin titles too ("Nana Rose")."""
TITLE = re.compile(  # "Herrn\nYonas": a letter's address block has the title on its own line
    rf"(?i)(?:\b(?:{'|'.join(sorted(TITLE_WORDS - {'ing'}))}|dipl\.-ing)\.?[ \n])$"
)
STRONG_CUE = re.compile(
    r"(?i)(?:\b(?:my name is|i am|i'm|this is|name ist|ich heiße|ich bin|mein name ist"
    r"|account holder|kontoinhaber|dear|liebe|lieber|hi|hello|hallo|hey|servus|moin|hoi|grüezi"
    r"|salü|yo|cheers"
    r"|thanks|thank you|thx|danke|lg|vg|ask|tell|ping|pinging|call|frag|fragt|frage|sag|ruf"
    r"|sag mal|frag mal|ruf mal|schreib mal"
    r"|met|meet|treffe|traf|cc|bcc|attn|attention|c/o|z\.hd\.|gez\.|i\.a\.|i\.v\.|signed"
    r"|congrats|glückwunsch|gruß|grüße|love|xoxo|lol|omg|bye|tschüss|ciao|grüße an|say hi to"
    r"|shoutout to|klingel|klingel bei|klingeln bei|klingelt bei|klingle bi|türschild|doorbell"
    r"|buzzer"
    r"|forward this to|loop in|welcome|willkommen),?:? )$"
)
WEAK_CUE = re.compile(
    r"(?i)(?:\b(?:and|und|or|oder|from|von|by|to|an|for|für|bei|with|mit|is|ist|said|says|sagt)"
    r"|&|,|\+|/) $"
)
CLOSING = re.compile(
    r"(?i)^(?:best|best wishes|thanks|thank you|thx|cheers|regards|kind regards|best regards"
    r"|warm regards|warmly|sincerely|yours|yours sincerely|yours truly|love|xoxo|take care"
    r"|viele grüße|beste grüße|liebe grüße|herzliche grüße|lg|vg|mfg|gruß|grüße|danke"
    r"|mit freundlichen grüßen|mit freundlichem gruß|freundliche grüße|hochachtungsvoll"
    r"|im auftrag|i\.a\.|i\. a\."
    r"|bis bald|arohanui|ngā mihi|saludos|cordialement|pozdrawiam)[,.!]?$"
)
COMPANY_AFTER = re.compile(
    r"(?:-\w+)* (?:Inc|LLC|Ltd|PLC|Group|GmbH|AG|KG|SE|Corp|and Sons|Stiftung|& Co)\b"
)
COMPANY_CUE = re.compile(r"(?i)(?:from|by|von|at|bei|with|mit|invoice|rechnung|to|an) $")
COMPANY_LIST = re.compile(r"([A-Z][a-z]+), ([A-Z][a-z]+) (?:and|und|&) ([A-Z][a-z]+)")
PLACE_BEFORE = re.compile(r"(?i)\b(?:in|at|near|nach|aus|im|am|from|to|via|visit|visiting)\s$")
ROLE_SUFFIX = re.compile(r"(?:ologist|ician|iatrist|ographer|ancer|apist|ologe|ologin|iater)$")
"""Endings of a job's name that no person's name has."""
PLACE_SUFFIX = re.compile(
    r"(?:chester|shire|burgh|brough|borough|mouth|ville|stad|haven|view|fort|port|bury|side"
    r"|hausen|heim|dorf)$"
)
FOLLOWS_NAME = re.compile(r"['\u2019]s\b| (?:and|und|&) [A-ZÀ-Þ]")
VERB_BEFORE = re.compile(
    r"(?i)\b(?:hat|ist|war|soll|will|kann|muss|hab|habe|sag|sagt|frag|ruf|did|does|is|was|has"
    r"|saw|see|tell|told|ask|asked|call|called|text|texted|meet|met|with|mit|and|und|or|oder) $"
)
GREETING = re.compile(
    r"(?i)\b(?:dear|liebe|lieber|hi|hello|hallo|hey|servus|moin|hoi|grüezi|salü) $"
)
SPOKEN_TO = re.compile(r"[,!:]|[ \t]*(?:\n|$)")
"""After a greeting's word, what makes it the name of the one greeted: "Hi Will," "Dear Grace\n"."""
AGE_SEX = re.compile(r" ?\((?:\d{1,2} ?[MFmfw]|[MFmfw] ?\d{1,2})\)")
"""A person's age and sex after their name, as in advice posts: "Summer (31F)"."""
SUBJECT_VERB = re.compile(
    r" (?:hat|ist|war|sagt|kommt|bringt|macht|backt|kocht|holt|schreibt|fragt|meint|will|kann"
    r"|schläft|braucht|says"
    r"|said|is|was|has|had|will|can|asked|wants|posted|sent|got|just|and|und)\b"
)
COORDINATED = re.compile(r" (?:und|and|&|oder|or) ([^\W\d_]+)")
KIN = frozenset(
    (
        *("daughter", "son", "wife", "husband", "sister", "brother", "cousin", "niece"),
        *("nephew", "grandson", "granddaughter", "fiance", "fiancé", "fiancee", "fiancée"),
        *("boyfriend", "girlfriend", "tochter", "sohn", "schwester", "bruder", "cousine"),
        *("nichte", "neffe", "enkel", "enkelin", "ehemann", "ehefrau", "verlobte", "verlobter"),
        *("mann", "partnerin", "freund", "freundin", "friend", "flatmate", "roommate"),
        *("neighbour", "neighbor", "nachbar", "nachbarin", "kollege", "kollegin", "colleague"),
    )
)
"""Before a name, a relative's (or friend's) word that makes even a common word one: "our
daughter Hope", "mein Mann Andrii"."""
DETERMINERS_DE = wordset(
    "der die das den dem des ein eine einen einem einer eines kein keine keinen keinem keiner "
    "mein meine meinen meinem meiner dein deine sein seine ihr ihre unser unsere euer eure "
    "jede jeder jedes diese dieser dieses im am zum zur vom beim ins ans"
)
"""Before a German capitalised word, what makes it a noun ("die Hinfahrt"), not a name."""
NAME_BEFORE_DE = wordset("laut von mit frag fragt sag sagt")
"""Before a German word no list knows, what makes it a person: "laut Kostas", "von Maksym"."""
PERSON_VERB = re.compile(
    r" (?:hat|war|sagt|meint|kommt|bringt|holt|schreibt|fragt|will|schläft|braucht|organisiert"
    r"|kümmert|fährt|ruft|weiß|kann|macht|backt|kocht|said|says|wants|asked|told|thinks|texted"
    r"|called|sent"
    r"|posted)\b"
)
"""After a word no list knows, a verb that mostly a person does: "Taras hat", "gav said"."""
FAMILY_WORDS = wordset(
    "ammi abbu amma appa nani dadi mummy daddy granny grandma grandad grandpa mutti vati "
    "mam mum mom dad mẹ nan mama papa oma opa tita tito lola lolo"
)
"""What a family calls its members, no one's name: a chat's sender ("ammi:"), the one greeted
("Hi Mum,")."""
NO_ONE = FAMILY_WORDS | wordset(
    "facilities finance ops operations accounts payroll procurement reception maintenance "
    "housekeeping lettings boardroom compliance logistics hiring "
    "chair ceo cfo cto coo company secretary manager supervisor team telephone trunkline "
    "helpline hotline business engineer designer developer director officer assistant "
    "consultant analyst paralegal arranger coordinator administrator executive specialist "
    "technician lecturer assessor adjuster inspector advisor adviser agent clerk"
)
"""Words in a name's place that are no one's name, alone or together: a department signing
a mail ("Facilities"), a family word a chat's sender goes by ("ammi: beta dont forget"), a role
in a list ("Present: Chair, CEO, Company Secretary")."""
ORGANISATION_WORDS = wordset(
    "Support Team Surgery Elementary School Juniors Solicitors Pharmacy Clinic Hospital Centre "
    "Center Office Relations Services Delivery Castle Quay Hotel Airport Station Library Museum "
    "Stadium College University Academy Primary Secondary Ltd Limited Apartments Residences "
    "Parade Mall Plaza Market Cafe Café Restaurant Bar Pub Gym Studio Studios Salon Bakery "
    "Foundation Trust Council Department Ministry Agency Partners Associates Consulting Care "
    "Staff"
)
"""The last word of a firm's, a school's or a place's name: "Wu Solicitors", "Lincoln
Elementary", "Apollo Clinic" are no people."""
JOB_TITLES = wordset(
    "Engineer Designer Developer Director Officer Assistant Consultant Analyst Paralegal "
    "Arranger Coordinator Administrator Executive Specialist Technician Lecturer Assessor "
    "Adjuster Inspector Advisor Adviser Agent Clerk"
)
"""The last word of a job's name: "Senior Backend Engineer", "Funeral Arranger" are no people."""
ASKED = wordset(
    "ask asked tell told ping pinged cc text texted message messaged call called thank thanks "
    "frag fragt sag sagt ruf"
)
"""Verbs said to a person, before a first name that is a word too: "ask Will", "tell Hope"."""
ARTICLE = frozenset(("the", "a", "an"))
"""Before a capitalised word, what makes it a thing or a place ("at the Hilton"), not a name."""
VOCATIVE = re.compile(
    r"(?i),? (?:(?:kannst|könntest|hast|bist|machst|würdest|can|could|would|will|did) )?"
    r"(?:du|you|ihr|u)\b"
)
"""After a word at a message's start, the person it speaks to: "basti du hast", "kemi, you",
"Thomas, kannst du"."""
NICKNAMES = frozenset(("Will", "Rob", "Bob", "Pat", "Sue", "Kit", "Chip", "Sandy", "Rusty"))
"""Short names that are words and in no name list."""
ADDRESSEES = FAMILY_WORDS | wordset(
    "all team everyone everybody there guys folks friends sir madam world ladies gentlemen "
    "support payroll admin hr sales billing colleagues neighbours neighbors parents "
    "resident residents carers customer customers colleague applicant patient member members "
    "anwohner anwohnerinnen kunde kundin mieter mieterin bewohner bewohnerin "
    "love darling honey babe "
    "alle zusammen leute ihr team kollegen kolleginnen damen herren nachbarn eltern schatz "
    "grüsse gruss grüße gruß passenger passengers valued householder guardians"
)
"""Whom a greeting may speak to that is no name: "Hi All,", "Dear Resident,"."""
MONTHS = frozenset(("Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov"))
DATED = re.compile(r"\d(?:st|nd|rd|th)?\.? [A-Z][a-z]{2,3}\b|\b[A-Z][a-z]{2,3}\.? \d")
"""Around a month's short name, a day that makes it one: "on 14 Jan", not "Jan and Mia"."""
STREET_WORDS = frozenset(
    (
        *("Street", "Road", "Avenue", "Drive", "Close", "Way", "Terrace", "Crescent", "Place"),
        *("Square", "Gardens", "Court", "Boulevard", "Straße", "Strasse", "Weg", "Platz", "Allee"),
        *("Lane", "St", "Rd", "Ave", "Blvd", "Hwy", "Ln"),
    )
)
"""Street words that a surname list may hold but that after a first name make a street."""
