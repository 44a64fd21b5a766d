"""Chat exports read into `ChatMessageLine`s: WhatsApp text exports (JSON message lists:
`chat_messages`).

WhatsApp writes one header per message, then the text; a text of several lines continues on
the following lines, which carry no header. Android and iOS, English and German differ only in
the header:

    12/31/24, 9:05 PM - Name: text          Android, English (U+202F may precede PM)
    31.12.24, 21:05 - Name: text            Android, German
    [31.12.24, 21:05:33] Name: text         iOS, German
    [12/31/24, 9:05:33 PM] Name: text       iOS, English (4-digit years are read as well)

Rules, where the format is ambiguous:

- Day and month order is decided once per file: a first field above 12 anywhere means
  day-first, a second field above 12 means month-first; otherwise dates written with dots are
  day-first (German), slashes with AM/PM month-first (US), and other slashes day-first.
- System lines have no author: Android writes none (no "Name: " after the header); iOS writes
  the group's name and marks the text with U+200E. Known phrases (joins, leaves, additions,
  subject changes, the encryption notice) are recognised in English and German.
- An author ends at a ": ". Names may hold ": " themselves, so a line's author is the longest
  "Name: " prefix known from the file: every first segment is known, and a longer one is
  known when every line starting with that first segment continues with it (two lines at
  least), or when it appears in a system line ("X added Dr. A: B"). If a person "Dr. A" and a
  person "Dr. A: B" both write, a text of "Dr. A" starting with "B: " is read as "Dr. A: B"'s.
- A line without a header inside an export continues the message before it, as in WhatsApp.
- An author has at most `task_inputs.max_author_chars` characters: a longer "Name: " prefix is
  not read as an author (without a shorter one, the line is a system line).

Sizes are bounded by `TaskInputLimits` (messages, characters per message and per author), and
every step is linear in the input: no pattern backtracks over a line more than a few times.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from corral.errors import InvalidRequest
from corral.tasks.inputs import ChatMessageLine, MessageKind
from corral.tasks.limits import TaskInputLimits

__all__ = ["classify", "decode_chat", "parse_chat", "participants", "quote", "too_long", "too_many"]

LRM = "\u200e"
_SPACE = "[ \u202f\u00a0]"
HEADER = re.compile(
    rf"^[\u200e\u200f]*(?P<open>\[)?"
    r"(?P<f1>\d{1,4})(?P<sep>[./-])(?P<f2>\d{1,2})(?P=sep)(?P<f3>\d{2,4}),?"
    rf"{_SPACE}(?P<h>\d{{1,2}})[:.](?P<m>\d{{2}})(?:[:.](?P<s>\d{{2}}))?"
    rf"(?:{_SPACE}?(?P<ampm>[AaPp])\.?[Mm]\.?)?"
    r"(?(open)\][ \u202f\u00a0]|[ \u202f\u00a0][-\u2013][ \u202f\u00a0])"
)
_WHO = r"(?P<who>.+?)"
_APOS = "['\u2019]"


def _ending(words: str) -> str:
    """A lookahead for a phrase that must end in one of `words` after a space: checked once at
    the start, it spares the ".+ word$" after each possible actor a scan to the line's end that
    fails (quadratic on a long line that does not end so)."""
    return rf"(?=.* (?:{words})$)"


_SYSTEM_PHRASES = (
    # English
    r"(?:Messages and calls are end-to-end encrypted|Messages to this group are now secured"
    r" with end-to-end encryption|Your security code with .+ changed)\b.*",
    rf"{_WHO} created group .+",
    rf"{_WHO} (?:added|removed) .+",
    rf"{_WHO} (?:left|joined|was removed|were removed|were added|was added)",
    rf"{_WHO} joined using this group{_APOS}s invite link",
    rf"{_WHO} changed (?:the subject|this group{_APOS}s icon|the group description|the group"
    r" settings|their phone number|to \+).*",
    rf"{_WHO} (?:deleted this group{_APOS}s icon|pinned a message|(?:is|are) now an admin)",
    rf"{_WHO} turned (?:on|off) disappearing messages.*",
    # German
    r"(?:Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt|Nachrichten an diese Gruppe"
    r" sind jetzt mit Ende-zu-Ende-Verschlüsselung geschützt)\b.*",
    rf"{_ending('erstellt')}{_WHO} (?:hat|hast) die Gruppe .+ erstellt",
    rf"{_ending('hinzugefügt|entfernt')}{_WHO} (?:hat|hast) .+ (?:hinzugefügt|entfernt)",
    rf"{_WHO} (?:hat|hast) die Gruppe verlassen",
    rf"{_ending('hinzugefügt|entfernt')}{_WHO} (?:wurde|wurdest) (?:von .+ )?"
    r"(?:hinzugefügt|entfernt)",
    rf"{_WHO} (?:ist|bist) über den Einladungslink dieser Gruppe beigetreten",
    rf"(?=.*(?:geändert|gelöscht)$){_WHO} (?:hat|hast) (?:den Betreff|das Gruppenbild|die"
    r" Gruppenbeschreibung|die Gruppeneinstellungen|den Gruppennamen) .*(?:geändert|gelöscht)",
    rf"{_WHO} (?:hat|hast) (?:seine |ihre |deine )?Telefonnummer .+",
    rf"{_WHO} (?:hat|hast) eine Nachricht angeheftet",
    rf"{_WHO} (?:ist|bist) jetzt (?:ein )?Admin",
    rf"{_WHO} (?:hat|hast) selbstlöschende Nachrichten .+",
)
SYSTEM = [re.compile(f"^(?:{phrase})$", re.DOTALL) for phrase in _SYSTEM_PHRASES]
_OMITTED = "image|video|audio|sticker|GIF|document|Contact card|photo"
_WEGGELASSEN = "Bild|Video|Audio|Sticker|GIF|Dokument|Kontaktkarte|Foto"
MEDIA = re.compile(
    r"^(?:<Media omitted>|<Medien ausgeschlossen>|<(?:attached|Anhang): .+>"
    rf"|(?:.+ )?(?:{_OMITTED}) omitted|(?:.+ )?(?:{_WEGGELASSEN}) weggelassen"
    r"|.+ \((?:file attached|Datei angehängt)\))$",
    re.IGNORECASE,
)
DELETED = re.compile(
    r"^(?:This message was deleted|You deleted this message|Diese Nachricht wurde gelöscht"
    r"|Du hast diese Nachricht gelöscht)\.?$"
)
BINARY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffd]")
NEWLINE = re.compile("\r\n|\r|\n")
EXAMPLES = '"31.12.24, 21:05 - Name: text" or "[12/31/24, 9:05:33 PM] Name: text"'
PARAM = "chat"
DEFAULT_LIMITS = TaskInputLimits()


@dataclass(slots=True)
class _Raw:
    """One header line and the lines continuing it, before authors are resolved."""

    match: re.Match[str]
    time: dt.datetime | None = None
    lines: list[str] = field(default_factory=list)
    chars: int = 0

    @property
    def rest(self) -> str:
        """Everything after the header, continuation lines included."""
        return "\n".join(self.lines).rstrip("\n")


def decode_chat(data: bytes) -> str:
    """UTF-8 (with or without BOM) to text; binary data is an `InvalidRequest`."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(
            f"the chat is binary data, not a text export (undecodable byte at {exc.start});"
            " export the chat from WhatsApp as a .txt file without media",
            param=PARAM,
        ) from None
    return text


def parse_chat(
    text: str | bytes, limits: TaskInputLimits = DEFAULT_LIMITS
) -> list[ChatMessageLine]:
    """Parse a WhatsApp text export; see the module's docstring for the rules."""
    text = decode_chat(text) if isinstance(text, bytes) else text.removeprefix("\ufeff")
    _check_text(text)
    raws = _group_lines(NEWLINE.split(text), limits)  # not splitlines(): U+2028 may be a text's
    known = _known_authors([raw.rest for raw in raws], limits.max_author_chars)
    lines = [
        _to_line(index, raw, known, limits.max_author_chars)
        for index, raw in enumerate(raws, start=1)
    ]
    return _group_name_lines_as_system(lines)


def _check_text(text: str) -> None:
    if not text.strip():
        raise InvalidRequest("the chat is empty: paste or upload a WhatsApp export", param=PARAM)
    controls = len(BINARY.findall(text))
    if "\x00" in text or controls > max(2, len(text) // 100):
        raise InvalidRequest(
            "the chat is binary data, not a text export: export the chat from WhatsApp"
            " as a .txt file without media",
            param=PARAM,
        )


def _group_lines(lines: list[str], limits: TaskInputLimits) -> list[_Raw]:
    """Header lines with their continuation lines, times read with the file's date order."""
    raws: list[_Raw] = []
    matches = [HEADER.match(line) for line in lines]
    day_first = _day_first([m for m in matches if m])
    for number, (line, match) in enumerate(zip(lines, matches, strict=True), start=1):
        time = _time(match, day_first) if match else None
        if match and time:
            if len(raws) == limits.max_messages:
                raise too_many(limits)
            raws.append(_Raw(match, time, [line[match.end() :]], len(line) - match.end()))
        elif raws:
            raws[-1].lines.append(line)
            raws[-1].chars += len(line) + 1
        elif line.strip():
            raise InvalidRequest(
                f"this does not look like a WhatsApp export: line {number} ({quote(line)})"
                f" does not start with a date and time such as {EXAMPLES}",
                param=PARAM,
            )
        if raws and raws[-1].chars > limits.max_message_chars:
            raise too_long(f"the message at line {number}", limits, PARAM)
    return raws


def too_many(limits: TaskInputLimits, param: str = PARAM) -> InvalidRequest:
    return InvalidRequest(
        f"the chat has more than {limits.max_messages:,} messages"
        " (task_inputs.max_messages): send a part of it",
        param=param,
        code="too_many_messages",
    )


def too_long(what: str, limits: TaskInputLimits, param: str) -> InvalidRequest:
    return InvalidRequest(
        f"{what} has more than {limits.max_message_chars:,} characters"
        " (task_inputs.max_message_chars)",
        param=param,
        code="message_too_long",
    )


def quote(line: str, limit: int = 60) -> str:
    line = line.replace(LRM, "").strip()
    return repr(line if len(line) <= limit else line[:limit] + "…")


def _day_first(matches: Sequence[re.Match[str]]) -> bool:
    """Day before month for this file (see the module's docstring)."""
    short = [m for m in matches if len(m["f1"]) <= 2]
    if any(int(m["f1"]) > 12 for m in short):
        return True
    if any(int(m["f2"]) > 12 for m in short):
        return False
    dots = sum(1 for m in short if m["sep"] == ".")
    if dots * 2 > len(short):
        return True
    slashes_ampm = sum(1 for m in short if m["sep"] == "/" and m["ampm"])
    return slashes_ampm * 2 <= len(short)


def _time(match: re.Match[str], day_first: bool) -> dt.datetime | None:
    first, second, third = int(match["f1"]), int(match["f2"]), int(match["f3"])
    if len(match["f1"]) > 2:
        year, month, day = first, second, third
    else:
        day, month = (first, second) if day_first else (second, first)
        year = third + 2000 if third < 100 else third
    hour, minute, second_ = int(match["h"]), int(match["m"]), int(match["s"] or 0)
    if match["ampm"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match["ampm"].lower() == "p" else 0)
    try:
        return dt.datetime(year, month, day, hour, minute, second_)
    except ValueError:
        return None


def _system_who(text: str) -> str | None:
    """The actor of a system phrase ("" when it names none), None if `text` is no such phrase."""
    for pattern in SYSTEM:
        match = pattern.match(text)
        if match:
            return match.groupdict().get("who") or ""
    return None


def _is_plain_system(rest: str) -> bool:
    """A header's remainder that is a system line whatever authors the file has."""
    if ": " not in rest:
        return True
    who = _system_who(rest)
    return who is not None and ": " not in who + " "


def _candidates(rest: str, max_chars: int) -> list[str]:
    """Every "Name: " prefix of a line of at most `max_chars` characters, shortest first: a
    bound, as a line of many ": " would otherwise make as many copies of itself."""
    return [rest[: m.start()] for m in re.finditer(": ", rest[: max_chars + 2])]


def _known_authors(rests: Iterable[str], max_chars: int) -> set[str]:
    """Author names known from the whole file (see the module's docstring)."""
    clean = [rest.replace(LRM, "") for rest in rests]
    system = {rest for rest in clean if _is_plain_system(rest)}
    by_first: dict[str, list[list[str]]] = {}
    longer: set[str] = set()
    for rest in clean:
        candidates = _candidates(rest, max_chars)
        if rest in system or not candidates:
            continue
        who = _system_who(rest)
        votes = by_first.setdefault(candidates[0], [])
        if who is None:
            votes.append(candidates)  # only messages vote on the names that extend it
            longer.update(candidates[1:])
        elif len(who) <= max_chars:
            longer.add(who)
    known = set(by_first) | mentioned(longer, system)
    for votes in by_first.values():
        if len(votes) >= 2:
            known.add(max(set(votes[0]).intersection(*votes[1:]), key=len))
    return known


def mentioned(names: set[str], texts: Iterable[str]) -> set[str]:
    """The names (each holding a ":") that occur in any of texts.

    Linear in the texts, where testing each name against each text was quadratic: a name's
    head (the part before its first ":") ends right before a ":" of the text and holds none,
    so only the few heads that fit before each ":" are looked up.
    """
    heads: dict[str, set[int]] = {}
    for name in names:
        heads.setdefault(name[: name.index(":")], set()).add(len(name))
    head_sizes = sorted({len(head) for head in heads})
    found: set[str] = set()
    for text in texts:
        since = 0  # where the text's current stretch without ":" starts
        for colon in re.finditer(":", text):
            at = colon.start()
            for size in head_sizes:
                if size > at - since:
                    break
                for length in heads.get(text[at - size : at], ()):
                    if text[at - size : at - size + length] in names:
                        found.add(text[at - size : at - size + length])
            since = at + 1
    return found


def _to_line(index: int, raw: _Raw, known: set[str], max_chars: int) -> ChatMessageLine:
    rest = raw.rest
    clean = rest.replace(LRM, "")
    candidates = _candidates(clean, max_chars)
    if not candidates or _is_plain_system(clean) or _system_who(clean) in known:
        return ChatMessageLine(index, raw.time, None, clean, "system")
    author = max((c for c in candidates if c in known), key=len, default=candidates[0])
    marked = _after_author(rest, author)
    text = marked.replace(LRM, "")
    who = _system_who(text)
    if who == "" or (who is not None and marked.startswith(LRM)):
        return ChatMessageLine(index, raw.time, None, text, "system")
    return ChatMessageLine(index, raw.time, author, text, classify(text))


def _after_author(rest: str, author: str) -> str:
    """The text after "author: " in `rest`, with its U+200E marks (some are inside names)."""
    seen = 0
    for position, char in enumerate(rest):
        if seen == len(author) + 2:
            return rest[position:]
        seen += char != LRM
    return ""


def classify(text: str) -> MessageKind:
    """The kind of a message with an author, from its text: media, deleted or text."""
    stripped = text.replace(LRM, "").strip()
    if MEDIA.match(stripped):
        return "media"
    if DELETED.match(stripped):
        return "deleted"
    return "text"


def _group_name_lines_as_system(lines: list[ChatMessageLine]) -> list[ChatMessageLine]:
    """An "author" whose every line is a system phrase is a group's name (iOS without U+200E).

    One of the phrases at least must be the encryption notice or name someone of the chat as
    its actor ("Anna added Ben"), so that a person whose one message is "I added the photos"
    stays a person.
    """
    people = {line.author for line in lines} | {"You", "Du"}
    phrases: dict[str, bool] = {}
    named: set[str] = set()
    for line in lines:
        if line.author is not None:
            who = _system_who(line.text) if line.kind == "text" else None
            phrases[line.author] = phrases.get(line.author, True) and who is not None
            if who == "" or who in people:
                named.add(line.author)
    groups = {author for author, all_system in phrases.items() if all_system} & named
    return [
        ChatMessageLine(line.id, line.time, None, line.text, "system")
        if line.author in groups
        else line
        for line in lines
    ]


def participants(lines: Iterable[ChatMessageLine]) -> list[tuple[str, int]]:
    """(name, messages) of everyone who wrote, most messages first, then by name."""
    counts = Counter(line.author for line in lines if line.kind != "system" and line.author)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))
