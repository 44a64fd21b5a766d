"""Person names in running text: Unicode-aware word tokens judged against name lists (every
Latin-script Faker locale), common-word lists (wordfreq) and the position a word stands in
(after a title, a greeting or a cue verb, beside another name, mid-sentence). Structures such
as form fields, chat senders and signatures are parsed in `structure.py`.

Modes: `recall` takes a word it does not know, capitalised and in a name-like position, for a
name; `strict` takes every capitalised word it does not know, anywhere, and every listed name.
"""

from __future__ import annotations

import re

from corral.privacy.cues import (
    ADDRESSEES,
    AGE_SEX,
    ARTICLE,
    ASKED,
    COMPANY_AFTER,
    COMPANY_CUE,
    COMPANY_LIST,
    COORDINATED,
    DATED,
    DETERMINERS_DE,
    FOLLOWS_NAME,
    GREETING,
    KIN,
    MONTHS,
    NAME_BEFORE_DE,
    NICKNAMES,
    PERSON_VERB,
    PLACE_BEFORE,
    PLACE_SUFFIX,
    ROLE_SUFFIX,
    SPOKEN_TO,
    STREET_WORDS,
    STRONG_CUE,
    SUBJECT_VERB,
    TITLE,
    TITLE_WORDS,
    VERB_BEFORE,
    VOCATIVE,
    WEAK_CUE,
)
from corral.privacy.gazetteer import (
    NOT_NAMES,
    PLACE_PREFIX,
    Gazetteer,
    is_german,
)
from corral.privacy.patterns import Span
from corral.privacy.tokens import (
    PARTICLE_WORDS,
    Tok,
    adjacent,
    initial,
    line_start,
    sentence_start,
    signature_line,
    title_cased,
    title_word,
    tokens,
    word_before,
)

MAX_LOOKBACK = 32


VIETNAMESE = re.compile("[\u01a0\u01a1\u01af\u01b0\u0110\u0111\u1ea0-\u1ef9]")
"""Letters of Vietnamese alone (ơ, ư, đ and the stacked marks of ấ, ễ, ự)."""


class NameFinder:
    """Finds person names in one text for one mode; see the module docstring."""

    def __init__(self, gaz: Gazetteer, strict: bool = False) -> None:
        self.gaz = gaz
        self.strict = strict
        self._word_names = frozenset(w for w in gaz.first if gaz.is_common(w))
        """First names that are words too ("Summer", "Grace"): a set test per capital."""

    def _cue(self, text: str, tok: Tok) -> str:
        before = text[max(0, tok.start - MAX_LOOKBACK) : tok.start]
        if not before:
            return ""
        if before[-1] in " \n" and TITLE.search(before) and title_cased(before):
            return "title"
        if (before[-1] in " \n" and STRONG_CUE.search(before)) or signature_line(text, tok.start):
            return "strong"
        if WEAK_CUE.search(before):
            return "weak"
        return ""

    def _capital_start(self, text: str, toks: list[Tok], i: int, german: bool) -> bool:
        tok, gaz = toks[i], self.gaz
        aged = text.startswith((" (", "("), tok.end) and AGE_SEX.match(text, tok.end)
        if aged and tok.word != "I":
            return True
        if tok.norm in self._word_names and self._before_surname(text, toks, i):
            return True
        if tok.norm in NOT_NAMES:  # a surname after a title: "Frau Winter", "Herr Mai"
            prev = toks[i - 1] if i else None
            if prev is None or not (title_word(prev) and adjacent(text, prev, tok)):
                return False
            return self._surname(prev, tok)
        if COMPANY_AFTER.match(text, tok.end):
            return False
        if tok.norm in MONTHS and DATED.search(text, max(0, tok.start - 5), tok.end + 3):
            return False  # "on 14 Jan", "Jun 3": a month, not Jan
        if i and toks[i - 1].norm in PLACE_PREFIX and adjacent(text, toks[i - 1], tok):
            return False
        cue = self._cue(text, tok) if i and title_word(toks[i - 1]) else ""
        if cue == "title":
            return True
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        pair = nxt is not None and nxt.cap and adjacent(text, tok, nxt)
        if pair and nxt is not None and nxt.norm in STREET_WORDS:
            return False  # "King Street", "Summer Lane": a street
        if tok.norm in STREET_WORDS and i and toks[i - 1].cap and adjacent(text, toks[i - 1], tok):
            return False  # the end of one: "Dame Street and Patrick Street"
        named_pair = pair and nxt is not None and gaz.is_name(nxt.norm)
        if tok.word.isupper() and not gaz.is_name(tok.norm) and not named_pair:
            return self.strict and len(tok.word) > 3  # acronyms: DOB, GBP, JIRA
        start = sentence_start(text, tok.start)
        if gaz.is_first(tok.norm):  # "Thomas und Petra" at a line's start: two names
            frequent = tok.norm.lower() in gaz.frequent
            spoken_to = FOLLOWS_NAME.match(text, tok.end) or VOCATIVE.match(text, tok.end)
            return not (start and frequent and not pair and not spoken_to)
        if gaz.is_common(tok.norm):  # "Hi Will,", "ask Will": a name that is a word
            return self._greeted(text, tok, gaz) or self._kin(text, tok) or self._asked(text, tok)
        if tok.norm in gaz.first and named_pair:
            return True
        unknown = gaz.is_unknown(tok.norm)
        listed = gaz.is_name(tok.norm)
        if unknown and not listed and ROLE_SUFFIX.search(tok.norm):
            return self.strict  # "Consultant Gastroenterologist", "Senior Conveyancer": a role
        if unknown and not listed and PLACE_SUFFIX.search(tok.norm):
            return self.strict  # Middlesbrough, Adamsshire: towns
        if not (unknown or listed):
            return self._known_after_cue(text, tok) or self._kin(text, tok)
        cue = self._cue(text, tok)
        if cue == "strong":
            return True
        article = not german and word_before(text, tok.start) in ARTICLE
        if article and tok.norm[:-1] not in gaz.last:  # "at the Hilton"; still "the Smiths"
            return self.strict
        if unknown and cue == "weak" and not german:
            return True
        if listed and (unknown or pair or cue or FOLLOWS_NAME.match(text, tok.end)):
            return True
        if not unknown:
            return False
        if self.strict or named_pair or self._kin(text, tok) or VIETNAMESE.search(tok.word):
            return True  # "Tuấn", "Đức": letters only Vietnamese names have in this text
        if start:
            dash = text.startswith((" - ", " \u2013 ", " \u2014 "), tok.end) and len(tok.word) <= 10
            owner = dash and line_start(text, tok)  # not "Buchungsbestätigung - Nr. 4"
            verb = SUBJECT_VERB.match(text, tok.end)
            if verb and german and verb.group() == " ist":
                verb = None if len(tok.word) > 8 else verb  # "Umzugswagen ist gebucht"
            return bool(verb) or owner or (not german and listed)  # owner: "Chioma - cake"
        if german:
            return self._named_in_german(text, tok) or self._with_a_name(text, tok)
        return PLACE_BEFORE.search(text, max(0, tok.start - 12), tok.start) is None

    def _with_a_name(self, text: str, tok: Tok) -> bool:
        """A word no list knows, joined by "und" to a listed name: "Tuấn und Huy"."""
        m = COORDINATED.match(text, tok.end)
        return m is not None and m.group(1)[:1].isupper() and self.gaz.is_name(m.group(1))

    @staticmethod
    def _named_in_german(text: str, tok: Tok) -> bool:
        """A word no list knows, mid-sentence in German (where every noun is capitalised): a
        name before a verb people do or after "laut"/"von"/"mit" ("Guten Morgen, Taras hat
        Fieber", "die Mama von Maksym"), not after an article ("die Hinfahrt ist")."""
        before = word_before(text, tok.start)
        subject = PERSON_VERB.match(text, tok.end) or before in NAME_BEFORE_DE
        short = len(tok.word) <= 12 and "-" not in tok.word  # not "Sicherheitsseite"
        return bool(subject) and short and before not in DETERMINERS_DE

    @staticmethod
    def _kin(text: str, tok: Tok) -> bool:
        """A word that is no name alone after a relative's word: "our daughter Hope"."""
        return not tok.word.isupper() and word_before(text, tok.start) in KIN

    def _asked(self, text: str, tok: Tok) -> bool:
        """A first name that is a word, capitalised after a verb one says to a person: "ask
        Will", "tell Hope", "cc Rose" (not "Hope to chase" at a line's start)."""
        named = tok.norm in self._word_names or tok.norm in NICKNAMES
        return named and word_before(text, tok.start) in ASKED and not tok.word.isupper()

    def _before_surname(self, text: str, toks: list[Tok], i: int) -> bool:
        """A first name that is also a word before a listed surname: "Summer Nguyen"."""
        tok, gaz = toks[i], self.gaz
        if i + 1 >= len(toks):
            return False
        nxt = toks[i + 1]
        surname = nxt.norm in gaz.last and nxt.norm not in STREET_WORDS  # "Grace Street": none
        return nxt.cap and adjacent(text, tok, nxt) and surname and gaz.is_name(nxt.norm)

    @staticmethod
    def _greeted(text: str, tok: Tok, gaz: Gazetteer) -> bool:
        """A name that is also a word, greeted: "Hi Will,", "Dear Grace"; not "Hi All,", not
        "Liebe Grüße"."""
        if tok.norm.lower() in ADDRESSEES or not (tok.norm in gaz.first or tok.norm in NICKNAMES):
            return False
        before = text[max(0, tok.start - 8) : tok.start]
        return bool(GREETING.search(before) and SPOKEN_TO.match(text, tok.end))

    def _known_after_cue(self, text: str, tok: Tok) -> bool:
        """A known word is a name after a greeting ("Liebe Hauke"), or after a phrase cue or
        a closing line ("my name is Jennifer") when it is not a frequent word ("ask Support")."""
        if tok.word.isupper() or title_word(tok):
            return False
        before = text[max(0, tok.start - MAX_LOOKBACK) : tok.start]
        if GREETING.search(before[-8:]):
            return tok.norm.lower() not in ADDRESSEES  # not "Dear Resident,"
        if tok.norm.lower() in self.gaz.frequent:
            return False
        cued = before[-1:] == " " and STRONG_CUE.search(before) is not None
        return cued or signature_line(text, tok.start)

    def _lower_start(self, text: str, tok: Tok) -> bool:
        """A lower-case name in a chat ("tell ngozi", "anna und yusuf sind ...")."""
        gaz, word = self.gaz, tok.word
        if word in gaz.frequent or len(word) < 2:
            return False  # most lower-case words end here, cheaply
        at_line_start = line_start(text, tok)
        if at_line_start and VOCATIVE.match(text, tok.end):
            return True  # a message spoken to someone: "basti du hast", "kemi, you"
        title = word.title()
        listed = (title in gaz.first or title in gaz.last) and not gaz.is_common(title)
        unknown = gaz.is_unknown(word)
        if not (listed or unknown):
            return False
        message_start = (
            at_line_start or text.startswith(": ", tok.start - 2) or sentence_start(text, tok.start)
        )
        drawn_out = re.search(r"(.)\1\1", word)  # "yesss can i", "sooo is": no name
        verb = PERSON_VERB.match(text, tok.end) or (unknown and SUBJECT_VERB.match(text, tok.end))
        if message_start and verb and not drawn_out:
            return True  # "mel: gav said he'll bring pavlova", "ahmet meint"
        if listed and word_before(text, tok.start) in TITLE_WORDS:
            return True  # "bei frau nowak"
        if listed and gaz.is_unknown(tok.word):
            return True  # "did pádraig ever pay": a listed name and no word of either language
        if word_before(text, tok.start) in KIN:
            return True  # "my cousin kayla"
        cue = self._cue(text, tok)
        if cue in ("title", "strong"):
            return True
        if not listed:
            return False
        pair = COORDINATED.match(text, tok.end)  # "chiara und ben": two names, each listed
        if pair and pair.group(1).islower() and gaz.is_name(pair.group(1).title()):
            return True
        after = text[tok.end : tok.end + 8]
        if cue == "weak" or VERB_BEFORE.search(text, max(0, tok.start - 8), tok.start):
            return True
        return at_line_start and (after[:1] in (" ", ":", ",") or after[:2] in ("'s", "\u2019s"))

    def _surname(self, before: Tok, tok: Tok) -> bool:
        """A month's, weekday's or season's word that is a surname after a first name or a
        title ("Katrin Winter", "Beat Sommer", "Frau Winter"); not a title or a firm's form."""
        if tok.norm not in self.gaz.last or tok.norm.lower() in TITLE_WORDS:
            return False
        return self.gaz.is_first(before.norm) or title_word(before)

    def _genitive(self, text: str, tok: Tok) -> bool:
        """A listed first name with a German genitive "s" that makes no known word, a noun
        after it ("Buraks Auto"; "Taras hat" is a name and its verb)."""
        word = tok.word
        if len(word) < 4 or word[-1] != "s" or word.endswith("ss") or word.isupper():
            return False
        if text[tok.end : tok.end + 1] != " " or SUBJECT_VERB.match(text, tok.end):
            return False
        if PERSON_VERB.match(text, tok.end):
            return False
        if word in self.gaz.first or word in self.gaz.last:  # "Nikolas", "Damaris": a name
            return False
        return self.gaz.is_first(word[:-1]) and word.lower() not in self.gaz.known

    def _firms(self, text: str) -> list[tuple[int, int]]:
        """Firm names such as "Walker, Reyes and Cain": three surnames in a row."""
        return [
            (m.start(), m.end())
            for m in COMPANY_LIST.finditer(text)
            if all(w in self.gaz.last for w in m.groups())
            and COMPANY_CUE.search(text, max(0, m.start() - 16), m.start())
        ]

    def find(self, text: str) -> list[Span]:
        toks = tokens(text)
        firms = self._firms(text) if "," in text else []
        if firms:
            toks = [t for t in toks if not any(a <= t.start < b for a, b in firms)]
        german = is_german(text)
        frequent = self.gaz.frequent
        found: list[Span] = []
        i = 0
        while i < len(toks):
            tok = toks[i]
            if tok.cap and german and self._genitive(text, tok):  # "Buraks Auto", "Yusufs Eltern"
                found.append(Span(tok.start, tok.end - 1, "PERSON", tok.word[:-1]))
                i += 1
                continue
            if tok.cap:
                ok = self._capital_start(text, toks, i, german)
            else:  # most lower-case words are frequent ones: no call to turn them down
                ok = tok.word not in frequent and self._lower_start(text, tok)
            if not ok:
                i += 1
                continue
            j = self._extend(text, toks, i)
            found.append(Span(tok.start, toks[j].end, "PERSON", text[tok.start : toks[j].end]))
            i = j + 1
        return found

    def _extend(self, text: str, toks: list[Tok], i: int) -> int:
        """The last token of the name starting at i: up to three more adjacent name words."""
        j = i
        while j + 1 < len(toks) and j - i < 5:
            k = j + 1
            while k < len(toks) - 1 and toks[k].word in PARTICLE_WORDS and toks[i].cap:
                k += 1  # "Van der Berg": particles are part of the name
            if not adjacent(text, toks[j], toks[k]):
                break
            nxt = toks[k]
            if toks[i].cap != nxt.cap or (
                nxt.norm in NOT_NAMES and not self._surname(toks[j], nxt)
            ):
                break
            if COMPANY_AFTER.match(text, nxt.end):
                break
            if not toks[i].cap and nxt.word.title() not in self.gaz.last:
                break
            if initial(text, nxt) and j + 1 < len(toks) - 1:
                j = k  # a middle initial: the name goes on after it
                continue
            if self.gaz.is_common(nxt.norm) and nxt.norm not in self.gaz.last:
                break
            # "Gertrud Sommer": a surname that is a word, after a first name
            surname = nxt.norm in self.gaz.last and self.gaz.is_first(toks[j].norm)
            listed = surname or self.gaz.is_name(nxt.norm)
            if nxt.norm.lower() in self.gaz.frequent and not listed:
                break
            if (
                len(nxt.word) > 1
                and len(toks[j].word) > 1
                and nxt.word.isupper() != toks[j].word.isupper()
            ):
                break
            j = k
        return j


def find_names(text: str, gaz: Gazetteer, strict: bool = False) -> list[Span]:
    """Person names in running text (see NameFinder)."""
    return NameFinder(gaz, strict).find(text)
