"""WhatsApp exports and JSON messages read into chat lines: formats, kinds, names, errors."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from corral.errors import InvalidRequest
from corral.tasks.chat_export import parse_chat, participants
from corral.tasks.chat_messages import parse_messages
from corral.tasks.inputs import ChatMessageLine

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "tasks" / "fixtures"
STYLES = ["android_en", "android_de", "ios_en", "ios_de"]
LRM, NNBSP = "\u200e", "\u202f"
EVENING = dt.datetime(2024, 12, 31, 21, 5)


def _one(line: str) -> ChatMessageLine:
    lines = parse_chat(line + "\n")
    assert len(lines) == 1
    return lines[0]


@pytest.mark.parametrize(
    ("line", "time"),
    [
        ("12/31/24, 9:05 PM - Anna Weber: see you", EVENING),
        (f"12/31/24, 9:05{NNBSP}PM - Anna Weber: see you", EVENING),
        ("12/31/2024, 9:05 PM - Anna Weber: see you", EVENING),
        ("31.12.24, 21:05 - Anna Weber: see you", EVENING),
        ("31/12/2024, 21:05 - Anna Weber: see you", EVENING),
        ("[31.12.24, 21:05:33] Anna Weber: see you", EVENING.replace(second=33)),
        ("[31.12.2024, 21:05:33] Anna Weber: see you", EVENING.replace(second=33)),
        ("[12/31/24, 9:05:33 PM] Anna Weber: see you", EVENING.replace(second=33)),
        (f"{LRM}[12/31/24, 9:05:33{NNBSP}PM] Anna Weber: see you", EVENING.replace(second=33)),
        ("[12/31/24, 12:05:33 AM] Anna Weber: see you", dt.datetime(2024, 12, 31, 0, 5, 33)),
    ],
)
def test_each_header_format_gives_author_time_and_text(line: str, time: dt.datetime) -> None:
    message = _one(line)

    assert message == ChatMessageLine(1, time, "Anna Weber", "see you", "text")


@pytest.mark.parametrize(
    ("lines", "day", "month"),
    [
        (["01/02/24, 9:05 PM - A: x"], 2, 1),  # slashes with AM/PM: US, month first
        (["01/02/24, 21:05 - A: x"], 1, 2),  # slashes without AM/PM: day first
        (["01.02.24, 21:05 - A: x"], 1, 2),  # dots: German, day first
        (["01/02/24, 9:05 PM - A: x", "13/02/24, 9:05 PM - A: y"], 1, 2),  # a day > 12 decides
        (["01.02.24, 21:05 - A: x", "02.13.24, 21:05 - A: y"], 2, 1),  # a month > 12 cannot be
    ],
)
def test_day_and_month_order_is_decided_for_the_whole_file(
    lines: list[str], day: int, month: int
) -> None:
    first = parse_chat("\n".join(lines))[0]

    assert first.time is not None
    assert (first.time.day, first.time.month) == (day, month)


def test_lines_without_a_header_continue_the_message_before() -> None:
    export = (
        "31.12.24, 21:05 - Anna: Packing list:\n"
        "- boots\n"
        "\n"
        "- tent: the big one\n"
        "31.12.24, 21:06 - Ben: ok\n"
    )

    lines = parse_chat(export)

    assert [line.text for line in lines] == ["Packing list:\n- boots\n\n- tent: the big one", "ok"]
    assert [line.id for line in lines] == [1, 2]


@pytest.mark.parametrize(
    "text",
    [
        "Messages and calls are end-to-end encrypted. No one outside of this chat, not even"
        " WhatsApp, can read or listen to them. Tap to learn more.",
        "Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt. Niemand außerhalb dieses Chats"
        " kann sie lesen oder anhören, nicht einmal WhatsApp. Tippe, um mehr zu erfahren.",
        "Anna joined using this group's invite link",
        "Anna ist über den Einladungslink dieser Gruppe beigetreten",
        "Anna added Ben",
        "Anna hat Ben hinzugefügt",
        "Ben left",
        "Ben hat die Gruppe verlassen",
        'Anna changed the subject from "Trip" to "Trip 2.0"',
        "Anna hat den Betreff von \u201eFest\u201c zu \u201eFest 2.0\u201c geändert",
        "Anna removed Ben",
        "Anna hat Ben entfernt",
    ],
)
def test_system_lines_have_no_author_on_android_and_ios(text: str) -> None:
    android = _one(f"31.12.24, 21:05 - {text}")
    ios = _one(f"{LRM}[31.12.24, 21:05:33] Trip 2024: {LRM}{text}")

    assert (android.author, android.text, android.kind) == (None, text, "system")
    assert (ios.author, ios.text, ios.kind) == (None, text, "system")


def test_ios_system_lines_are_known_by_the_group_name_even_without_marks() -> None:
    export = (
        "[31.12.24, 21:05:33] Trip: Anna added Ben\n"
        "[31.12.24, 21:06:00] Trip: Ben left\n"
        "[31.12.24, 21:07:00] Anna: Ben left\n"
        "[31.12.24, 21:08:00] Anna: why?\n"
    )

    lines = parse_chat(export)

    assert [(line.author, line.kind) for line in lines] == [
        (None, "system"),
        (None, "system"),
        ("Anna", "text"),  # a person saying it is no system line
        ("Anna", "text"),
    ]


def test_a_person_whose_one_message_sounds_like_a_system_line_stays_a_person() -> None:
    export = "[31.12.24, 21:05:33] Carl: I added the photos\n[31.12.24, 21:06:00] Anna: thx\n"

    lines = parse_chat(export)

    assert [(line.author, line.kind) for line in lines] == [("Carl", "text"), ("Anna", "text")]


def test_windows_line_ends_and_line_separators_inside_texts_are_kept_apart() -> None:
    export = "31.12.24, 21:05 - Anna: one\u2028two\r\nmore\r\n31.12.24, 21:06 - Ben: ok\r\n"

    lines = parse_chat(export)

    assert [line.text for line in lines] == ["one\u2028two\nmore", "ok"]


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("<Media omitted>", "media"),
        ("<Medien ausgeschlossen>", "media"),
        (f"{LRM}image omitted", "media"),
        (f"{LRM}Bild weggelassen", "media"),
        (f"{LRM}video omitted", "media"),
        (f"{LRM}<attached: 00000042-PHOTO-2024-12-31-21-05-33.jpg>", "media"),
        (f"{LRM}<Anhang: 00000042-PHOTO-2024-12-31-21-05-33.jpg>", "media"),
        ("This message was deleted", "deleted"),
        ("You deleted this message", "deleted"),
        (f"{LRM}This message was deleted.", "deleted"),
        ("Diese Nachricht wurde gelöscht", "deleted"),
        (f"{LRM}Du hast diese Nachricht gelöscht.", "deleted"),
        ("I deleted the photo of the tent", "text"),
    ],
)
def test_media_and_deleted_messages_keep_their_author(body: str, kind: str) -> None:
    message = _one(f"[31.12.24, 21:05:33] Anna: {body}")

    assert (message.author, message.text, message.kind) == ("Anna", body.replace(LRM, ""), kind)


@pytest.mark.parametrize(
    "name", ["Lena 🌸", "+49 151 23456789", "+1 (415) 555-0132", "Weber, Anna", "~\u202fAnna"]
)
def test_unusual_names_are_read_whole(name: str) -> None:
    message = _one(f"12/31/24, 9:05 PM - {name}: Plan: meet at 8")

    assert (message.author, message.text) == (name, "Plan: meet at 8")


def test_a_name_with_a_colon_is_the_longest_name_the_file_knows() -> None:
    export = (
        "31.12.24, 21:00 - Anna added Dr. A: Team\n"
        "31.12.24, 21:05 - Dr. A: Team: Plan: meet at 8\n"
        "31.12.24, 21:06 - Anna: Time: 8 sharp\n"
        "31.12.24, 21:07 - Anna: ok\n"
    )

    lines = parse_chat(export)

    assert [(line.author, line.text) for line in lines[1:]] == [
        ("Dr. A: Team", "Plan: meet at 8"),
        ("Anna", "Time: 8 sharp"),
        ("Anna", "ok"),
    ]


def test_a_name_with_a_colon_is_learnt_from_its_own_lines() -> None:
    export = (
        "31.12.24, 21:05 - Coach: Dana: Training at 6\n"
        "31.12.24, 21:06 - Coach: Dana: Bring water\n"
        "31.12.24, 21:07 - Coach: Dana left\n"
    )

    lines = parse_chat(export)

    assert [(line.author, line.kind) for line in lines] == [
        ("Coach: Dana", "text"),
        ("Coach: Dana", "text"),
        (None, "system"),
    ]


def test_participants_count_messages_not_system_lines() -> None:
    export = (
        "31.12.24, 21:00 - Ben added Anna\n"
        "31.12.24, 21:05 - Anna: hi\n"
        "31.12.24, 21:06 - Ben: <Media omitted>\n"
        "31.12.24, 21:07 - Anna: This message was deleted\n"
        "31.12.24, 21:08 - Carl: hey\n"
    )

    counts = participants(parse_chat(export))

    assert counts == [("Anna", 2), ("Ben", 1), ("Carl", 1)]


def _truth(style: str) -> dict[str, Any]:
    truth: dict[str, Any] = json.loads((FIXTURES / f"whatsapp_{style}.json").read_text("utf-8"))
    return truth


@pytest.mark.parametrize("style", STYLES)
def test_a_long_export_matches_its_ground_truth(style: str) -> None:
    truth = _truth(style)

    lines = parse_chat((FIXTURES / truth["file"]).read_bytes())

    assert len(lines) == truth["messages"] >= 2000
    assert [list(item) for item in participants(lines)] == truth["participants"]
    assert sum("\n" in line.text for line in lines) == truth["multiline"]
    kinds = {kind: sum(line.kind == kind for line in lines) for kind in truth["kinds"]}
    assert kinds == truth["kinds"]
    assert all(kind in truth["kinds"] for kind in ("text", "media", "deleted", "system"))
    for sample in truth["samples"]:
        line = lines[sample["id"] - 1]
        assert line.time is not None
        assert (line.time.isoformat(), line.author, line.text, line.kind) == (
            sample["time"],
            sample["author"],
            sample["text"],
            sample["kind"],
        )
    times = [line.time for line in lines if line.time]
    assert times == sorted(times) and times[-1].isoformat() == truth["last_time"]


def test_the_long_exports_hold_the_edge_cases() -> None:
    for style in STYLES:
        names = [name for name, _ in _truth(style)["participants"]]

        assert any(": " in name for name in names), style
        assert any(", " in name for name in names), style
        assert any(name.startswith("+") for name in names), style
        assert any(ord(char) > 0x2000 for name in names for char in name), style  # emoji


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_chat_fixtures", ROOT / "scripts" / "make_chat_fixtures.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("style", STYLES)
def test_the_fixtures_match_their_generator(style: str) -> None:
    export, truth = _script().build(style)

    assert export == (FIXTURES / f"whatsapp_{style}.txt").read_text("utf-8")
    assert truth == (FIXTURES / f"whatsapp_{style}.json").read_text("utf-8")
    assert len(export.encode()) < 300_000


def test_json_messages_are_read_with_their_authors_times_and_kinds() -> None:
    items: list[dict[str, Any]] = [
        {"author": "Anna", "text": "hi", "time": "2024-12-31T21:05:00"},
        {"from": "Ben", "content": "<Media omitted>", "time": 1735678800},
        {"sender": "Carl", "text": ["see ", {"type": "link", "text": "example.org"}]},
        {"text": "Anna added Dora"},
    ]

    lines = parse_messages(items)

    assert lines == [
        ChatMessageLine(1, dt.datetime(2024, 12, 31, 21, 5), "Anna", "hi", "text"),
        ChatMessageLine(
            2, dt.datetime(2024, 12, 31, 21, 0, tzinfo=dt.UTC), "Ben", "<Media omitted>", "media"
        ),
        ChatMessageLine(3, None, "Carl", "see example.org", "text"),
        ChatMessageLine(4, None, None, "Anna added Dora", "system"),
    ]


@pytest.mark.parametrize(
    ("items", "problem", "param"),
    [
        ([], "no messages", "messages"),
        (["hi"], "message 1 is not an object", "messages[0]"),
        ([{"author": "Anna"}], "message 1 needs an author", "messages[0]"),
        (
            [{"author": "Anna", "text": "hi", "time": "yesterday"}],
            "message 1 has a time",
            "messages[0].time",
        ),
    ],
)
def test_bad_json_messages_are_named(items: list[Any], problem: str, param: str) -> None:
    with pytest.raises(InvalidRequest, match=problem) as caught:
        parse_messages(items)

    assert caught.value.param == param


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ("", "the chat is empty"),
        ("  \n\n", "the chat is empty"),
        (
            "Dear diary,\ntoday was fine",
            "not look like a WhatsApp export: line 1 \\('Dear diary,'\\)",
        ),
        ("\n\nhello\n31.12.24, 21:05 - Anna: hi", "line 3 \\('hello'\\)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
        (b"\xff\xfe\xfa\xfb not utf-8", "binary data"),
        ("31.12.24, 21:05 - Anna: hi\x00\x00\x00", "binary data"),
    ],
)
def test_inputs_that_are_no_export_are_refused_with_the_reason(
    data: str | bytes, problem: str
) -> None:
    with pytest.raises(InvalidRequest, match=problem) as caught:
        parse_chat(data)

    assert caught.value.param == "chat"
    assert caught.value.status_code == 400
