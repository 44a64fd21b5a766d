"""Turn the hand-written chats (`tests/tasks/fixtures/handwritten/*.chat`) into WhatsApp exports
with their ground truth: the decisions and open questions a reader of the chat would name.

The chats' words are written by hand; this script only adds what is tedious by hand: the clock
(a few minutes between messages unless a line `@ YYYY-MM-DD HH:MM` sets it), the export's
format (Android or iOS, English or German) and the message ids the ground truth cites, taken
from `#D1`, `#Q2` marks at the end of a message (removed from the export).

A `.chat` file: a header (`platform:`, `language:`, `group:`, `start:`), then lines
`% D1: what was decided`, `% D1 superseded: ...` (revised later), `% Q1 -> Name: the question`
(`-> everyone` when it is put to the group), then `---` and the messages, one per line as
`Author: text`; a line starting with `| ` continues the message before; `<media>` is a photo
(alone on its line: by the author before).

    .venv/bin/python scripts/make_handwritten_chats.py   # writes handwritten/*.txt and *.json
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

DIR = Path(__file__).resolve().parent.parent / "tests" / "tasks" / "fixtures" / "handwritten"
LRM, NNBSP = "\u200e", "\u202f"
MARK = re.compile(r"\s+#([DQ]\d+)")
TRUTH = re.compile(r"^% ([DQ]\d+)( superseded)?(?: -> ([^:]+))?: (.+)$")
NOTICE = {
    "en": "Messages and calls are end-to-end encrypted. No one outside of this chat, not even"
    " WhatsApp, can read or listen to them.",
    "de": "Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt. Niemand außerhalb dieses"
    " Chats kann sie lesen oder anhören, nicht einmal WhatsApp.",
}
MEDIA = {
    ("en", False): "<Media omitted>",
    ("de", False): "<Medien ausgeschlossen>",
    ("en", True): "image omitted",
    ("de", True): "Bild weggelassen",
}


def _header(lang: str, ios: bool, time: dt.datetime) -> str:
    hour = f"{(time.hour - 1) % 12 + 1}:{time:%M}"
    ampm = "AM" if time.hour < 12 else "PM"
    if ios and lang == "en":
        return f"[{time.month}/{time.day}/{time:%y}, {hour}:{time:%S} {ampm}] "
    if ios:
        return f"[{time:%d.%m.%Y, %H:%M:%S}] "
    if lang == "en":
        return f"{time.month}/{time.day}/{time:%y}, {hour}{NNBSP}{ampm} - "
    return f"{time:%d.%m.%y, %H:%M} - "


def build(source: str, name: str) -> tuple[str, dict[str, Any]]:
    head, body = source.split("\n---\n", 1)
    meta = dict(
        line.split(": ", 1) for line in head.splitlines() if ": " in line and line[0] != "%"
    )
    lang, ios = meta["language"], meta["platform"] == "ios"
    rng = random.Random(name)
    clock = dt.datetime.fromisoformat(meta["start"])
    msgs: list[dict[str, Any]] = []
    for raw in body.splitlines():
        if not raw.strip():
            continue
        if raw.startswith("@ "):
            clock = dt.datetime.fromisoformat(raw[2:].strip())
            continue
        if raw.startswith("| "):
            msgs[-1]["text"] += "\n" + raw[2:]
            continue
        # a bare `<media>` is a photo sent by whoever wrote last
        author, text = (msgs[-1]["author"], raw) if raw == "<media>" else raw.split(": ", 1)
        marks = MARK.findall(text)
        clock += dt.timedelta(seconds=rng.randint(20, 420))
        msg = {"id": len(msgs) + 2, "time": clock, "author": author, "marks": marks}
        msgs.append({**msg, "text": MARK.sub("", text)})
    cited: dict[str, list[int]] = {}
    for msg in msgs:
        for mark in msg["marks"]:
            cited.setdefault(mark, []).append(msg["id"])
    return _export(meta, lang, ios, msgs), _truth(name, head, lang, ios, msgs, cited)


def _export(meta: dict[str, str], lang: str, ios: bool, msgs: list[dict[str, Any]]) -> str:
    start = dt.datetime.fromisoformat(meta["start"])
    if ios:
        out = [f"{_header(lang, ios, start)}{meta['group']}: {LRM}{NOTICE[lang]}"]
    else:
        tap = " Tap to learn more." if lang == "en" else " Tippe, um mehr zu erfahren."
        out = [f"{_header(lang, ios, start)}{NOTICE[lang]}{tap}"]
    for msg in msgs:
        stamp = _header(lang, ios, msg["time"] if ios else msg["time"].replace(second=0))
        if msg["text"] == "<media>":
            lead = LRM if ios else ""
            out.append(f"{lead}{stamp}{msg['author']}: {lead}{MEDIA[(lang, ios)]}")
        else:
            out.append(f"{stamp}{msg['author']}: {msg['text']}")
    return "\n".join(out) + "\n"


def _truth(
    name: str,
    head: str,
    lang: str,
    ios: bool,
    msgs: list[dict[str, Any]],
    cited: dict[str, list[int]],
) -> dict[str, Any]:
    decisions, questions = [], []
    for line in head.splitlines():
        match = TRUTH.match(line)
        if match is None:
            continue
        key, superseded, waiting, text = match.groups()
        if key not in cited:
            raise SystemExit(f"{name}: {key} is in the truth but no message is marked with it")
        item: dict[str, Any] = {"key": key, "text": text, "message_ids": cited[key]}
        if key[0] == "D":
            decisions.append({**item, "superseded": bool(superseded)})
        else:
            questions.append({**item, "waiting_on": waiting})
    counts = Counter(m["author"] for m in msgs)
    return {
        "file": f"{name}.txt",
        "platform": "ios" if ios else "android",
        "language": lang,
        "messages": len(msgs) + 1,
        "participants": sorted(counts.items(), key=lambda item: (-item[1], item[0])),
        "decisions": decisions,
        "open_questions": questions,
    }


def main() -> None:
    for path in sorted(DIR.glob("*.chat")):
        export, truth = build(path.read_text(encoding="utf-8"), path.stem)
        path.with_suffix(".txt").write_text(export, encoding="utf-8")
        text = json.dumps(truth, ensure_ascii=False, indent=1) + "\n"
        path.with_suffix(".json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
