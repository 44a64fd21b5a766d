"""Words as the name finder reads them: Unicode-aware tokens (every Latin letter, hyphens and
apostrophes inside a name, not a clitic's "'s"), and the tests on where a word stands: at a
sentence's or a line's start, after a closing line, after a title, beside another word of the
same name."""

from __future__ import annotations

import re
from dataclasses import dataclass

from corral.privacy.cues import CLOSING, TITLE_WORDS
from corral.privacy.gazetteer import LETTERS, wordset

CLITIC = r"(?:s|ll|m|d|re|ve|t)(?![\w])"
TOKEN = re.compile(rf"(?<![\w@#/])[{LETTERS}]+(?:(?:-|['\u2019](?!{CLITIC}))[{LETTERS}]+)*")
PARTICLE = re.compile(
    r" (?:(?:van|von|de|der|den|del|della|da|das|di|do|dos|du|le|la|ten|ter|vom|zum|zu|bin"
    r"|ibn|al|el|ní|nic|mac|ó|y|e) )*"
)
SENTENCE_END = ".!?:;\n\"'(“„»«"


def sentence_start(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and text[i] in " \t*-•>":
        i -= 1
    return i < 0 or text[i] in SENTENCE_END


def signature_line(text: str, start: int) -> bool:
    """Whether start begins a line right after a closing line ("Best regards")."""
    begin = text.rfind("\n", 0, start) + 1
    if text[begin:start].strip() or begin == 0:
        return False
    prev_end = begin - 1
    while prev_end > 0 and text[prev_end - 1] == "\n":
        prev_end -= 1  # a blank line between closing and name
    prev_start = text.rfind("\n", max(0, prev_end - 48), prev_end) + 1
    if prev_start == 0 and prev_end > 48:
        return False
    line = text[prev_start:prev_end]
    return any(CLOSING.match(part.strip()) for part in line.split("/"))


@dataclass(slots=True)
class Tok:
    start: int
    end: int
    word: str
    norm: str
    cap: bool


def tokens(text: str) -> list[Tok]:
    # One span() and a lower-case word's norm without tests: a quarter of this function's
    # time, which every partner request pays per word.
    out = []
    for m in TOKEN.finditer(text):
        w = m.group()
        start, end = m.span()
        if w[0].isupper():
            out.append(Tok(start, end, w, w.title() if len(w) > 1 and w.isupper() else w, True))
        else:
            out.append(Tok(start, end, w, w, False))
    return out


PARTICLE_WORDS = wordset(
    "van von de der den del della da das di do dos du le la ten ter vom zum zu bin ibn al el "
    "ní nic mac ó y e"
)


def title_word(tok: Tok) -> bool:
    """A title as written before a name: "Dr", "Frau", "MR"; not "ms" (milliseconds)."""
    return tok.word[0].isupper() and tok.word.lower() in TITLE_WORDS


def title_cased(before: str) -> bool:
    words = before.replace(".", " ").split()
    return bool(words) and words[-1].lstrip("([{\"'\u201c")[:1].isupper()  # "(Mrs Jenkins)"


def word_before(text: str, pos: int) -> str:
    """The word before pos, lower-case, when one space stands between ("" if none)."""
    if pos < 2 or text[pos - 1] != " ":
        return ""
    start = max(text.rfind(" ", 0, pos - 1), text.rfind("\n", 0, pos - 1)) + 1
    return text[start : pos - 1].lower()


def line_start(text: str, tok: Tok) -> bool:
    """Whether tok opens its line, or a quotation that opens it ('"Hine — power bill')."""
    start = tok.start - 1 if tok.start and text[tok.start - 1] in '"\u201c\u201e' else tok.start
    return start == 0 or text[start - 1] == "\n"


def adjacent(text: str, left: Tok, right: Tok) -> bool:
    if PARTICLE.fullmatch(text, left.end, right.start) is not None:
        return True
    return initial(text, left) and right.start == left.end + 2  # "William J. Hawthorne"


def initial(text: str, tok: Tok) -> bool:
    return len(tok.word) == 1 and tok.word.isupper() and text.startswith(". ", tok.end)
