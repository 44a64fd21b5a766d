"""Checking uploads against their purpose: good JSONL passes with a count, bad lines are named."""

from __future__ import annotations

import json
from typing import Any

import pytest

from corral.files.validate import InvalidFile, Summary, check_lines


def jsonl(*rows: Any) -> list[bytes]:
    return [(row if isinstance(row, str) else json.dumps(row)).encode() + b"\n" for row in rows]


def chat(*turns: tuple[str, str], **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": r, "content": c} for r, c in turns], **extra}


GOOD = chat(("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello!"))


def refusal(lines: list[bytes], purpose: str = "fine-tune") -> str:
    with pytest.raises(InvalidFile) as caught:
        check_lines(lines, purpose)
    assert caught.value.status_code == 400 and caught.value.param == "file"
    return caught.value.message


def test_a_chat_training_file_counts_its_examples() -> None:
    tool_turns = {
        "messages": [
            {"role": "user", "content": "Weather in Bonn?"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}]},
            {"role": "tool", "content": "12 C", "tool_call_id": "c1"},
            {"role": "assistant", "content": "12 degrees.", "weight": 1},
        ]
    }
    weighted = chat(("user", "Hi"), ("assistant", "Hey"))
    weighted["messages"][1]["weight"] = 0

    assert check_lines(jsonl(GOOD, tool_turns, "", weighted), "fine-tune") == Summary(3, 3)


def test_bad_training_lines_are_named_by_number_and_reason() -> None:
    message = refusal(
        jsonl(
            GOOD,
            "{not json",
            [1, 2],
            {"prompt": "old completion format"},
            chat(("user", "Hi")),
            chat(("user", "Hi"), ("robot", "beep")),
            {"messages": [{"role": "user", "content": "Hi", "weight": 1}, GOOD["messages"][2]]},
            {
                "messages": [
                    {"role": "user", "content": "x"},
                    {"role": "assistant", "content": "y", "weight": 2},
                ]
            },
        )
    )

    assert message.startswith("The file is not valid fine-tune JSONL (7 of 8 lines are bad)")
    assert "line 2: not valid JSON" in message
    assert "line 3: not a JSON object" in message
    assert "line 4: no 'messages' list" in message
    assert "line 5: no assistant message" in message
    assert "line 6: messages[1]: role must be one of system, user, assistant, tool" in message
    assert "line 7: messages[0]: 'weight' is only for assistant messages" in message
    assert "line 8: messages[1]: 'weight' must be 0 or 1" in message
    assert "line 1:" not in message


def test_a_refusal_names_the_first_ten_bad_lines_and_counts_the_rest() -> None:
    message = refusal(jsonl(*(["nope"] * 25)))

    assert "line 10: not valid JSON" in message
    assert "line 11:" not in message
    assert message.endswith("and 15 more bad lines.")


def test_a_file_that_is_not_utf8_is_refused() -> None:
    assert "line 1: not UTF-8" in refusal([b'{"messages": "\xff\xfe"}\n'])


def test_an_empty_file_is_refused() -> None:
    assert "is empty" in refusal([b"\n", b"  \n"], "evals")


def test_evaluation_rows_are_items_or_flat_objects() -> None:
    rows = jsonl({"item": {"question": "2+2?", "answer": "4"}}, {"question": "3+3?"})

    assert check_lines(rows, "evals") == Summary(2, None)
    assert "line 2: 'item' must be a JSON object" in refusal(
        jsonl({"item": {}}, {"item": "text"}), "evals"
    )
