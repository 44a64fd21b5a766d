"""Person names in running text: Unicode-aware word tokens judged against name lists (every
Latin-script Faker locale), common-word lists (wordfreq) and the position a word stands in
(after a title, a greeting or a cue verb, beside another name, mid-sentence). Structures such
as form fields, chat senders and signatures are parsed in `structure.py`.

Modes: `recall` takes a word it does not know, capitalised and in a name-like position, for a
name; `strict` takes every capitalised word it does not know, anywhere, and every listed name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from corral.privacy.cues import (
    ADDRESSEES,
    AGE_SEX,
    ARTICLE,
    CLOSING,
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
    LETTERS,
    NOT_NAMES,
    PLACE_PREFIX,
    Gazetteer,
    is_german,
    wordset,
)
from corral.privacy.patterns import Span

CLITIC = r"(?:s|ll|m|d|re|ve|t)(?![\w])"
TOKEN = re.compile(rf"(?<![\w@#/])[{LETTERS}]+(?:(?:-|['\u2019](?!{CLITIC}))[{LETTERS}]+)*")
PARTICLE = re.compile(
    r" (?:(?:van|von|de|der|den|del|della|da|das|di|do|dos|du|le|la|ten|ter|vom|zum|zu|bin"
    r"|ibn|al|el|ní|nic|mac|ó|y|e) )*"
)
SENTENCE_END = ".!?:;\n\"'(“„»«"
MAX_LOOKBACK = 32


def _sentence_start(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and text[i] in " \t*-•>":
        i -= 1
    return i < 0 or text[i] in SENTENCE_END


def signature_line(text: str, start: int) -> bool:
    """Whether start begins a line right after a closing line ("Best regards")."""
    line_start = text.rfind("\n", 0, start) + 1
    if text[line_start:start].strip() or line_start == 0:
        return False
    prev_end = line_start - 1
    while prev_end > 0 and text[prev_end - 1] == "\n":
        prev_end -= 1  # a blank line between closing and name
    prev_start = text.rfind("\n", max(0, prev_end - 48), prev_end) + 1
    if prev_start == 0 and prev_end > 48:
        return False
    line = text[prev_start:prev_end]
    return any(CLOSING.match(part.strip()) for part in line.split("/"))


@dataclass(slots=True)
class _Tok:
    start: int
    end: int
    word: str
    norm: str
    cap: bool


def tokens(text: str) -> list[_Tok]:
    # One span() and a lower-case word's norm without tests: a quarter of this function's
    # time, which every partner request pays per word.
    out = []
    for m in TOKEN.finditer(text):
        w = m.group()
        start, end = m.span()
        if w[0].isupper():
            out.append(_Tok(start, end, w, w.title() if len(w) > 1 and w.isupper() else w, True))
        else:
            out.append(_Tok(start, end, w, w, False))
    return out


class NameFinder:
    """Finds person names in one text for one mode; see the module docstring."""

    def __init__(self, gaz: Gazetteer, strict: bool = False) -> None:
        self.gaz = gaz
        self.strict = strict
        self._word_names = frozenset(w for w in gaz.first if gaz.is_common(w))
        """First names that are words too ("Summer", "Grace"): a set test per capital."""

    def _cue(self, text: str, tok: _Tok) -> str:
        before = text[max(0, tok.start - MAX_LOOKBACK) : tok.start]
        if not before:
            return ""
        if before[-1] in " \n" and TITLE.search(before) and _title_cased(before):
            return "title"
        if (before[-1] in " \n" and STRONG_CUE.search(before)) or signature_line(text, tok.start):
            return "strong"
        if WEAK_CUE.search(before):
            return "weak"
        return ""

    def _capital_start(self, text: str, toks: list[_Tok], i: int, german: bool) -> bool:
        tok, gaz = toks[i], self.gaz
        aged = text.startswith((" (", "("), tok.end) and AGE_SEX.match(text, tok.end)
        if aged and tok.word != "I":
            return True
        if tok.norm in self._word_names and self._before_surname(text, toks, i):
            return True
        if tok.norm in NOT_NAMES:  # "Frau Winter", "Herr Mai": a surname after a title
            prev = toks[i - 1] if i else None
            titled = prev is not None and _title_word(prev) and _adjacent(text, prev, tok)
            return bool(titled) and prev is not None and self._surname(prev, tok)
        if COMPANY_AFTER.match(text, tok.end):
            return False
        if tok.norm in MONTHS and DATED.search(text, max(0, tok.start - 5), tok.end + 3):
            return False  # "on 14 Jan", "Jun 3": a month, not Jan
        if i and toks[i - 1].norm in PLACE_PREFIX and _adjacent(text, toks[i - 1], tok):
            return False
        cue = self._cue(text, tok) if i and _title_word(toks[i - 1]) else ""
        if cue == "title":
            return True
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        pair = nxt is not None and nxt.cap and _adjacent(text, tok, nxt)
        if pair and nxt is not None and nxt.norm in STREET_WORDS:
            return False  # "King Street", "Summer Lane": a street
        if tok.norm in STREET_WORDS and i and toks[i - 1].cap and _adjacent(text, toks[i - 1], tok):
            return False  # the end of one: "Dame Street and Patrick Street"
        named_pair = pair and nxt is not None and gaz.is_name(nxt.norm)
        if tok.word.isupper() and not gaz.is_name(tok.norm) and not named_pair:
            return self.strict and len(tok.word) > 3  # acronyms: DOB, GBP, JIRA
        start = _sentence_start(text, tok.start)
        if gaz.is_first(tok.norm):  # "Thomas und Petra" at a line's start: two names
            frequent = tok.norm.lower() in gaz.frequent
            return not (start and frequent and not pair and not FOLLOWS_NAME.match(text, tok.end))
        if gaz.is_common(tok.norm):  # "Hi Will,": a name that is a word
            return self._greeted(text, tok, gaz) or self._kin(text, tok)
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
        if self.strict or named_pair or self._kin(text, tok):
            return True
        if start:
            dash = text.startswith((" - ", " \u2013 "), tok.end) and len(tok.word) <= 10
            owner = dash and _line_start(text, tok)  # not "Buchungsbestätigung - Nr. 4"
            verb = SUBJECT_VERB.match(text, tok.end)
            return bool(verb) or owner or (not german and listed)  # owner: "Chioma - cake"
        if (
            german
        ):  # "Guten Morgen, Taras hat Fieber", "die Mama von Maksym"; not "die Hinfahrt ist"
            before = word_before(text, tok.start)
            subject = PERSON_VERB.match(text, tok.end) or before in NAME_BEFORE_DE
            short = len(tok.word) <= 12 and "-" not in tok.word  # not "Sicherheitsseite"
            return bool(subject) and short and before not in DETERMINERS_DE
        return PLACE_BEFORE.search(text, max(0, tok.start - 12), tok.start) is None

    @staticmethod
    def _kin(text: str, tok: _Tok) -> bool:
        """A word that is no name alone after a relative's word: "our daughter Hope"."""
        return not tok.word.isupper() and word_before(text, tok.start) in KIN

    def _before_surname(self, text: str, toks: list[_Tok], i: int) -> bool:
        """A first name that is also a word before a listed surname: "Summer Nguyen"."""
        tok, gaz = toks[i], self.gaz
        if i + 1 >= len(toks):
            return False
        nxt = toks[i + 1]
        surname = nxt.norm in gaz.last and nxt.norm not in STREET_WORDS  # "Grace Street": none
        return nxt.cap and _adjacent(text, tok, nxt) and surname and gaz.is_name(nxt.norm)

    @staticmethod
    def _greeted(text: str, tok: _Tok, gaz: Gazetteer) -> bool:
        """A name that is also a word, greeted: "Hi Will,", "Dear Grace"; not "Hi All,", not
        "Liebe Grüße"."""
        if tok.norm.lower() in ADDRESSEES or not (tok.norm in gaz.first or tok.norm in NICKNAMES):
            return False
        before = text[max(0, tok.start - 8) : tok.start]
        return bool(GREETING.search(before) and SPOKEN_TO.match(text, tok.end))

    def _known_after_cue(self, text: str, tok: _Tok) -> bool:
        """A known word is a name after a greeting ("Liebe Hauke"), or after a phrase cue or
        a closing line ("my name is Jennifer") when it is not a frequent word ("ask Support")."""
        if tok.word.isupper() or _title_word(tok):
            return False
        before = text[max(0, tok.start - MAX_LOOKBACK) : tok.start]
        if GREETING.search(before[-8:]):
            return tok.norm.lower() not in ADDRESSEES  # not "Dear Resident,"
        if tok.norm.lower() in self.gaz.frequent:
            return False
        cued = before[-1:] == " " and STRONG_CUE.search(before) is not None
        return cued or signature_line(text, tok.start)

    def _lower_start(self, text: str, tok: _Tok) -> bool:
        """A lower-case name in a chat ("tell ngozi", "anna und yusuf sind ...")."""
        gaz, word = self.gaz, tok.word
        if word in gaz.frequent or len(word) < 2:
            return False  # most lower-case words end here, cheaply
        line_start = tok.start == 0 or text[tok.start - 1] == "\n"
        if line_start and VOCATIVE.match(text, tok.end):
            return True  # a message spoken to someone: "basti du hast", "kemi, you"
        title = word.title()
        listed = (title in gaz.first or title in gaz.last) and not gaz.is_common(title)
        unknown = gaz.is_unknown(word)
        if not (listed or unknown):
            return False
        message_start = (
            line_start or text.startswith(": ", tok.start - 2) or _sentence_start(text, tok.start)
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
        return line_start and (after[:1] in (" ", ":", ",") or after[:2] in ("'s", "\u2019s"))

    def _surname(self, before: _Tok, tok: _Tok) -> bool:
        """A month's, weekday's or season's word that is a surname after a first name or a
        title ("Katrin Winter", "Beat Sommer", "Frau Winter"); not a title or a firm's form."""
        if tok.norm not in self.gaz.last or tok.norm.lower() in TITLE_WORDS:
            return False
        return self.gaz.is_first(before.norm) or _title_word(before)

    def _genitive(self, text: str, tok: _Tok) -> bool:
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

    def _extend(self, text: str, toks: list[_Tok], i: int) -> int:
        """The last token of the name starting at i: up to three more adjacent name words."""
        j = i
        while j + 1 < len(toks) and j - i < 5:
            k = j + 1
            while k < len(toks) - 1 and toks[k].word in PARTICLE_WORDS and toks[i].cap:
                k += 1  # "Van der Berg": particles are part of the name
            if not _adjacent(text, toks[j], toks[k]):
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
            if _initial(text, nxt) and j + 1 < len(toks) - 1:
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


PARTICLE_WORDS = wordset(
    "van von de der den del della da das di do dos du le la ten ter vom zum zu bin ibn al el "
    "ní nic mac ó y e"
)


def _title_word(tok: _Tok) -> bool:
    """A title as written before a name: "Dr", "Frau", "MR"; not "ms" (milliseconds)."""
    return tok.word[0].isupper() and tok.word.lower() in TITLE_WORDS


def _title_cased(before: str) -> bool:
    words = before.replace(".", " ").split()
    return bool(words) and words[-1].lstrip("([{\"'\u201c")[:1].isupper()  # "(Mrs Jenkins)"


def word_before(text: str, pos: int) -> str:
    """The word before pos, lower-case, when one space stands between ("" if none)."""
    if pos < 2 or text[pos - 1] != " ":
        return ""
    start = max(text.rfind(" ", 0, pos - 1), text.rfind("\n", 0, pos - 1)) + 1
    return text[start : pos - 1].lower()


def _line_start(text: str, tok: _Tok) -> bool:
    return tok.start == 0 or text[tok.start - 1] == "\n"


def _adjacent(text: str, left: _Tok, right: _Tok) -> bool:
    if PARTICLE.fullmatch(text, left.end, right.start) is not None:
        return True
    return _initial(text, left) and right.start == left.end + 2  # "William J. Hawthorne"


def _initial(text: str, tok: _Tok) -> bool:
    return len(tok.word) == 1 and tok.word.isupper() and text.startswith(". ", tok.end)


def find_names(text: str, gaz: Gazetteer, strict: bool = False) -> list[Span]:
    """Person names in running text (see NameFinder)."""
    return NameFinder(gaz, strict).find(text)
