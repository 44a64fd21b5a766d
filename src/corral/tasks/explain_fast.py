"""Explain a conversation in seconds (mode "fast", the default): rules find the decisions and
open questions (`chat_rules`), and the model reads only what they found, a few hundred tokens,
to phrase a short explanation.

A 135M model on two CPU cores reads ~150 prompt tokens a second, so a 2,000-message chat
(~47k tokens) can never be read in seconds; its decisions and open questions can be found in
code in milliseconds. What the model writes is checked (no empty or bracket-only text, no
greeting, no message copied out of the chat, no word salad); text that fails is replaced by an
explanation written in code from the same findings, and `meta.fallback` says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from corral.tasks import chat_phrases as ph
from corral.tasks import chat_rules
from corral.tasks.chat_export import participants
from corral.tasks.chat_rules import Finding, Signals, decisions, open_questions
from corral.tasks.engine import LANGUAGES, ModelCaller
from corral.tasks.inputs import ChatMessageLine
from corral.tasks.prompts import EXPLAIN_FAST

_NAMES = 6
_BRIEF_DECISIONS, _BRIEF_QUESTIONS = 5, 4
"""What the model reads of the findings, the latest first: ~400 tokens at most."""
"""Participants named in the brief; the rest are counted."""
_WORDS = {
    "en": (
        "A chat of {n} messages{span} between {names}.",
        "Decided: ",
        "Still open: ",
        "waiting on ",
        "Nothing was clearly decided.",
        " from {a} to {b}",
        " and {k} more",
    ),
    "de": (
        "Ein Chat mit {n} Nachrichten{span} zwischen {names}.",
        "Beschlossen: ",
        "Noch offen: ",
        "wartet auf ",
        "Nichts wurde klar beschlossen.",
        " vom {a} bis {b}",
        " und {k} weiteren",
    ),
}


async def explain_fast(
    caller: ModelCaller,
    lines: list[ChatMessageLine],
    language: str,
    signals: Signals = Signals(),
) -> dict[str, Any]:
    caller.stage("rules")
    found = decisions(lines, signals)
    still_open = open_questions(lines, language, signals)
    meta = caller.meta
    meta.mode, meta.chunks, meta.prompt_version = "fast", 1, EXPLAIN_FAST.version
    notes = brief(lines, found, still_open, language)
    caller.stage("phrasing")
    said = await caller.say(
        EXPLAIN_FAST.system.format(language=LANGUAGES[language]), notes, EXPLAIN_FAST.tokens
    )
    text = checked(said, lines, notes)
    if text is None:  # written in code instead, from the same findings
        meta.fallback = True
        text = written(lines, found, still_open, language)
    return {
        "participants": [{"name": n, "message_count": c} for n, c in participants(lines)],
        "explanation": text,
        "decisions": [item.as_json(question=False) for item in found],
        "open_questions": [item.as_json(question=True) for item in still_open],
    }


def brief(
    lines: Sequence[ChatMessageLine],
    found: Sequence[Finding],
    still_open: Sequence[Finding],
    language: str,
) -> str:
    """What the model reads: notes on the chat, then what the rules found (no dates or ids: a
    small model copies them out instead of explaining)."""
    people = participants(lines)
    group = _group_name(lines)
    out = [
        f"Group chat{f' {group}' if group else ''}: {len(lines)} messages, {len(people)} people."
    ]
    out.append("Decided:" if found else "Decided: nothing clear")
    out += [f"- {item.said}" for item in found[-_BRIEF_DECISIONS:]]
    out.append("Still open:" if still_open else "Still open: nothing")
    out += [f"- {q.said} (asked of {q.waiting_on})" for q in still_open[-_BRIEF_QUESTIONS:]]
    return "\n".join(out)


_GROUP = re.compile(r'(?:created group|hat die Gruppe|changed the subject .* to) [„"](.+?)[“"]')


def _group_name(lines: Sequence[ChatMessageLine]) -> str:
    """The group's name, as the export's system lines give it (its latest, if renamed)."""
    names = [
        m.group(1)
        for line in lines
        if line.kind == "system"
        for m in [_GROUP.search(line.text)]
        if m
    ]
    return f'"{names[-1]}"' if names else ""


def _overview(lines: Sequence[ChatMessageLine], language: str) -> str:
    words = _WORDS.get(language, _WORDS["en"])
    people = [name for name, _ in participants(lines)]
    names = ", ".join(people[:_NAMES])
    if len(people) > _NAMES:
        names += words[6].format(k=len(people) - _NAMES)
    times = [line.time for line in lines if line.time is not None]
    span = words[5].format(a=f"{min(times):%Y-%m-%d}", b=f"{max(times):%Y-%m-%d}") if times else ""
    return words[0].format(n=len(lines), span=span, names=names)


def written(
    lines: Sequence[ChatMessageLine],
    found: Sequence[Finding],
    still_open: Sequence[Finding],
    language: str,
) -> str:
    """The explanation in code, from the findings, within the schema's 500 characters."""
    words = _WORDS.get(language, _WORDS["en"])
    parts = [_overview(lines, language)]
    if found:
        parts.append(words[1] + "; ".join(_short(f.said) for f in found[-3:]) + ".")
    else:
        parts.append(words[4])
    if still_open:
        asks = [f"{_short(q.said)} ({words[3]}{q.waiting_on})" for q in still_open[-2:]]
        parts.append(words[2] + "; ".join(asks) + ".")
    text = " ".join(parts)
    return text if len(text) <= 500 else text[:499].rstrip() + "…"


def _short(text: str, most: int = 70) -> str:
    text = text.rstrip(".!? ")
    return text if len(text) <= most else text[: most - 1].rstrip() + "…"


_NOTES = re.compile(
    r"group chat:|decided:|still open:|asked of|^\W*-", re.IGNORECASE | re.MULTILINE
)


_NOTE_LABELS = frozenset({"group", "chat", "messa", "peopl", "decid", "nothi", "clear", "asked"})
"""The stems of the notes' own labels (`brief`): no sign that a text is about this chat."""


def checked(text: str, lines: Sequence[ChatMessageLine], notes: str = "") -> str | None:
    """The model's explanation if it reads as one, else None: not the notes it was given
    copied back, not a message of the chat copied out, and about what the notes say."""
    text = " ".join(text.split())
    words = re.findall(r"[^\W\d_]{2,}", text)
    if len(text) < 20 or len(words) < 5 or "{" in text or "[" in text:
        return None  # empty, bracket-only or JSON spilled into the text
    if sum(c.isalpha() or c.isspace() for c in text) < 0.7 * len(text):
        return None
    if ph.GREETING.match(text) or len({w.lower() for w in words}) < 0.5 * len(words):
        return None  # a greeting, or the same few words over and over
    if _NOTES.search(text) or any(len(note) >= 20 and note in text for note in notes.splitlines()):
        return None  # the notes given back as they came
    about = chat_rules.words(notes.lower()) - _NOTE_LABELS
    if about and not chat_rules.words(text.lower()) & about:
        return None  # about nothing the notes name: "I'm sorry for the confusion, I'm here to help"
    lowered = text.lower()
    for line in lines:
        said = " ".join(line.text.split()).lower()
        copied = line.kind == "text" and len(said) >= 12 and said in lowered
        if copied and (len(said) >= 0.5 * len(lowered) or ph.GREETING.match(said)):
            return None  # a message copied out, not explained
    return text
