"""Decisions and open questions found in a parsed chat by deterministic rules, in English and
German, each citing the messages behind it.

A 135M model cannot find these in a long chat (and reading it all takes minutes on a CPU), but
cheap signals can: decision phrases ("booked", "abgemacht"), agreement runs (a proposal that
two or more others agree to), questions without a later answer, and who a question is put to
(an @mention or a name the question starts or ends with). The rules are tuned for precision:
an item they report cites the messages that make it, so a reader can check it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from corral.tasks import chat_phrases as ph
from corral.tasks.inputs import ChatMessageLine

MOST_DECISIONS = 8
MOST_QUESTIONS = 6
_RUN = 6
"""Messages after a proposal in which its agreement run must happen."""
_RUN_HOURS = 12
_QUICK = 3
"""Replies by others right after a question that count as its answer when answer-like."""
_QUICK_HOURS = 8
_TEXT_CHARS = 160
_SAID, _CONCLUDED = 20.0, 10.0
"""The scores of a decision said outright and of a wrap-up after agreement: each tier above
the next whatever the agreement after it (a run of agreement scores at most 1 + _RUN)."""


@dataclass(frozen=True, slots=True)
class Signals:
    """Which signals the rules use: all by default; the bench switches them off one by one."""

    phrases: bool = True
    agreement: bool = True
    mentions: bool = True
    overlap: bool = True
    time_gaps: bool = True


@dataclass(slots=True)
class Finding:
    text: str
    message_ids: list[int]
    score: float
    waiting_on: str | None = None
    about: frozenset[str] = field(default_factory=frozenset)
    author: str = ""

    @property
    def said(self) -> str:
        """The text without its author's name in front."""
        return self.text[len(self.author) + 2 :] if self.author else self.text

    def as_json(self, question: bool) -> dict[str, object]:
        out: dict[str, object] = {"text": self.text, "message_ids": self.message_ids[:4]}
        if question:
            out["waiting_on"] = (self.waiting_on or "")[:40]
        return out


_CACHE = 16_384
"""Texts whose words and signals are kept: a question is compared with every later message,
so each message's are computed once, not once per question before it."""


@lru_cache(maxsize=_CACHE)
def words(text: str) -> frozenset[str]:
    """The content words of a text, cut to a crude stem (the first five letters)."""
    found = ph.WORD.findall(ph.URL.sub(" ", text.lower()))
    return frozenset(w[:5] for w in found if w not in ph.STOPWORDS)


def excerpt(line: ChatMessageLine) -> str:
    text = " ".join(line.text.split())
    who = f"{line.author}: " if line.author else ""
    full = who + text
    return full if len(full) <= _TEXT_CHARS else full[: _TEXT_CHARS - 1].rstrip() + "…"


def is_question(line: ChatMessageLine) -> bool:
    return line.kind == "text" and _asks(line.text)


@lru_cache(maxsize=_CACHE)
def _asks(text: str) -> bool:
    text = ph.URL.sub(" ", text).strip()
    if "?" not in text or len(text.split()) < 3:
        return False
    # "..., right?" alone seeks no answer; after a question of its own, it does not cancel it
    return ph.TAG_QUESTION.search(text) is None or text.count("?") > 1


@lru_cache(maxsize=_CACHE)
def _no_answer(text: str) -> bool:
    """A promise ("I'll check") or a shrug ("not sure"): it answers nothing."""
    return bool(ph.PROMISE.search(text) or ph.DEFER.search(text))


def is_agreement(line: ChatMessageLine) -> bool:
    text = line.text.strip()
    if line.kind != "text" or len(text.split()) > 10 or text.endswith("?"):
        return False
    if ph.DISAGREE.search(text):
        return False
    return bool(ph.AGREE.search(text) or ph.AGREE_EMOJI.search(text))


def _close(a: ChatMessageLine, b: ChatMessageLine, hours: float, signals: Signals) -> bool:
    if not signals.time_gaps or a.time is None or b.time is None:
        return True
    return b.time - a.time <= dt.timedelta(hours=hours)


# --- decisions ---------------------------------------------------------------------------------


def decisions(lines: Sequence[ChatMessageLine], signals: Signals = Signals()) -> list[Finding]:
    """Decisions in chat order, the strongest `MOST_DECISIONS`; a later decision on the same
    subject (shared content words) replaces an earlier one and cites both."""
    spoken = [line for line in lines if line.kind == "text" and line.author]
    names = _name_words([line.author for line in spoken if line.author])
    found: list[Finding] = []
    for at, line in enumerate(spoken):
        after = _agreements(spoken, at, signals) if signals.agreement else []
        stated = signals.phrases and _states_decision(line)
        proposed = bool(ph.PROPOSAL.search(line.text)) or is_question(line)
        if stated:  # a decision said outright outranks any run of agreement
            score = _SAID + len(after)
        elif signals.agreement and _concludes(spoken, at):
            score = _CONCLUDED + len(after)
        elif (proposed and len(after) >= 2) or len(after) >= 3:
            score = 1.0 + len(after)
        else:
            continue
        ids = [line.id, *(a.id for a in after)]
        found.append(
            Finding(
                excerpt(line), ids, score, about=words(line.text) - names, author=line.author or ""
            )
        )
    return _strongest(_revised(_merged(found)), MOST_DECISIONS)


def _concludes(spoken: Sequence[ChatMessageLine], at: int) -> bool:
    """A statement right after two or more others agreed: the wrap-up that says what was
    agreed ("right, Thursdays at 7:30 then", "great, so it's the 16th now")."""
    line = spoken[at]
    text = line.text
    if is_question(line) or is_agreement(line) or len(text.split()) < 5:
        return False
    if ph.DISAGREE.search(text) or ph.NOT_DONE.search(text):
        return False
    agreed = {b.author for b in spoken[max(0, at - 4) : at] if is_agreement(b)}
    return len(agreed - {line.author}) >= 2


def _name_words(authors: Sequence[str]) -> frozenset[str]:
    return frozenset(w for author in set(authors) for w in words(author))


def _states_decision(line: ChatMessageLine) -> bool:
    """A decision phrase, or something made final (booked, paid) as part of a plan."""
    text = line.text
    if is_question(line) or text.rstrip().endswith("?") or len(text.split()) < 3:
        return False
    if ph.DECIDED.search(text):
        return True
    if ph.DISAGREE.search(text) or ph.NOT_DONE.search(text):
        return False
    if ph.DONE_SAID.search(text):
        return True
    return ph.DONE.search(text) is not None and ph.PLAN.search(text) is not None


def _agreements(
    spoken: Sequence[ChatMessageLine], at: int, signals: Signals
) -> list[ChatMessageLine]:
    """The agreeing replies by distinct others right after message `at`; none when someone
    disagrees first."""
    proposer, out, seen = spoken[at].author, list[ChatMessageLine](), set[str | None]()
    for line in spoken[at + 1 : at + 1 + _RUN]:
        if not _close(spoken[at], line, _RUN_HOURS, signals):
            break
        if line.author == proposer:
            continue
        if ph.DISAGREE.search(line.text) and not is_agreement(line):
            break
        if is_agreement(line) and line.author not in seen:
            seen.add(line.author)
            out.append(line)
    return out


def _merged(found: list[Finding]) -> list[Finding]:
    """One finding per cluster of citing messages (a decision stated, then agreed to)."""
    out: list[Finding] = []
    for item in found:
        last = out[-1] if out else None
        if last is not None and item.message_ids[0] - max(last.message_ids) <= 2:
            keep, other = (item, last) if item.score >= last.score else (last, item)
            ids = [keep.message_ids[0], other.message_ids[0], *keep.message_ids[1:]]
            out[-1] = dataclasses.replace(keep, message_ids=list(dict.fromkeys(ids)))
        else:
            out.append(item)
    return out


def _revised(found: list[Finding]) -> list[Finding]:
    """A decision said outright that shares two content words with a later one is that one's
    earlier version (runs of agreement are too loosely worded to tell)."""
    out: list[Finding] = []
    for item in found:
        earlier = next(
            (o for o in out if _said(o) and _said(item) and len(o.about & item.about) >= 2), None
        )
        if earlier is not None:
            out.remove(earlier)
            ids = [*item.message_ids[:3], earlier.message_ids[0]]
            item = dataclasses.replace(item, message_ids=ids, score=max(item.score, earlier.score))
        out.append(item)
    return out


def _said(item: Finding) -> bool:
    return item.score >= _SAID


def _strongest(found: list[Finding], most: int) -> list[Finding]:
    kept = sorted(found, key=lambda f: (-f.score, -f.message_ids[0]))[:most]
    return sorted(kept, key=lambda f: f.message_ids[0])


# --- open questions ----------------------------------------------------------------------------


def open_questions(
    lines: Sequence[ChatMessageLine], language: str, signals: Signals = Signals()
) -> list[Finding]:
    """Questions no later message answers, in chat order, with whom they wait on: the person
    asked by @mention or by name, or everyone."""
    spoken = [line for line in lines if line.kind == "text" and line.author]
    people = _first_names([line.author for line in spoken if line.author])
    found: list[Finding] = []
    for at, line in enumerate(spoken):
        if not is_question(line) or len(line.text.split()) < 4:
            continue
        asked = _addressee(line, people) if signals.mentions else None
        if _answered(spoken, at, asked, signals):
            continue
        score = 1.0 + (asked is not None) + at / max(1, len(spoken))
        waiting = asked or ph.EVERYONE.get(language, "everyone")
        found.append(
            Finding(excerpt(line), [line.id], score, waiting, words(line.text), line.author or "")
        )
    return _strongest(_one_per_subject(found), MOST_QUESTIONS)


def _first_names(authors: Sequence[str]) -> dict[str, str]:
    """Each word of an author's name (and the whole name), lower-cased -> the author, where
    only one author has it: "steve" finds "Uncle Steve", "brenner" finds "Herr Brenner"."""
    keys: dict[str, set[str]] = {}
    for author in set(authors):
        parts = [p.strip(",:") for p in author.lower().split()]
        for key in {author.lower(), *parts}:
            if len(key) >= 2 and key[0].isalpha():
                keys.setdefault(key, set()).add(author)
    return {key: next(iter(names)) for key, names in keys.items() if len(names) == 1}


def _person(word: str, people: dict[str, str]) -> str | None:
    """The author a word names: a whole name word, or the start of one ("Dan" for Daniel)."""
    word = word.strip(",:!?.").lower()
    if word in people:
        return people[word]
    if len(word) >= 3:
        found = {name for key, name in people.items() if key.startswith(word)}
        return found.pop() if len(found) == 1 else None
    return None


def _addressee(line: ChatMessageLine, people: dict[str, str]) -> str | None:
    """Whom a question is put to: an @mention, a name a sentence starts with ("Dan, can
    you", "Herr Brenner, gibt es"), a name it ends with, or "question for Anna"."""
    text = line.text.strip()
    named = [m for m in ph.MENTION.findall(text)]
    named += [m.group(1) for m in ph.FOR_WHOM.finditer(text)]
    named += [m.group(1) for m in ph.ADDRESS.finditer(text)]
    named += [text.rstrip("?!. ").rsplit(maxsplit=1)[-1]] if text else []
    for word in named:
        person = _person(word, people)
        if person is not None and person != line.author:
            return person
    return None


def _answered(
    spoken: Sequence[ChatMessageLine], at: int, asked: str | None, signals: Signals
) -> bool:
    """Whether a later message answers the question at `at`: one of the first replies (by the
    person asked, if any), or any later one sharing two of its words. A promise ("I'll check") or a
    shrug ("not sure", "hm") answers nothing."""
    question = spoken[at]
    about = words(question.text)
    if asked is None and ph.WHO.search(question.text):
        return _volunteered(spoken[at + 1 :], question, about, signals)
    quick = 0
    for line in spoken[at + 1 :]:
        if line.author == question.author:
            continue
        quick += 1
        if is_question(line) or _no_answer(line.text):
            continue
        if asked is not None and line.author != asked:
            continue
        shared = len(about & words(line.text)) if signals.overlap else 0
        if quick <= _QUICK and _close(question, line, _QUICK_HOURS, signals):
            if is_agreement(line) or len(line.text.split()) >= 3 or shared:
                return True
        elif shared >= 2:
            return True
    return False


def _volunteered(
    later: Sequence[ChatMessageLine],
    question: ChatMessageLine,
    about: frozenset[str],
    signals: Signals,
) -> bool:
    """Whether someone took on what a "who will ...?" question asks for: "I'll bring it"
    about its subject, or a bare "me!"; "I have a small one", "I'll bring snacks" or "I'm
    busy" does not."""
    for line in later:
        if line.author == question.author or is_question(line) or ph.DEFER.search(line.text):
            continue
        if not (ph.VOLUNTEER.search(line.text) or ph.BARE_VOLUNTEER.match(line.text)):
            continue
        shared = about & words(line.text) if signals.overlap else frozenset()
        if shared or ph.BARE_VOLUNTEER.match(line.text):
            return True
    return False


def _one_per_subject(found: list[Finding]) -> list[Finding]:
    """A question asked again later (same words, same person asked) is one open question."""
    out: list[Finding] = []
    for item in found:
        again = next(
            (o for o in out if o.waiting_on == item.waiting_on and len(o.about & item.about) >= 2),
            None,
        )
        if again is not None:
            out.remove(again)
            item.message_ids = [*item.message_ids, *again.message_ids][:4]
        out.append(item)
    return out
