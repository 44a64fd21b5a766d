"""A file picked on the assistant-tasks page: a WhatsApp `.txt`, or the `.zip` WhatsApp
makes with media, read to the chat's text; anything else refused with a readable reason."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from corral.api.console.task_input import TaskForm, task_request, uploaded_text
from corral.api.tasks.protocol import ExplainRequest, SummarizeRequest, TipsRequest
from corral.errors import InvalidRequest

FIXTURES = Path(__file__).parents[2] / "tasks" / "fixtures"


def _zip(**members: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name.replace("__", "/"), data)
    return buffer.getvalue()


def test_a_text_export_and_the_same_chat_zipped_with_media_read_the_same() -> None:
    chat = (FIXTURES / "whatsapp_android_en.txt").read_bytes()
    zipped = _zip(**{"WhatsApp Chat with Trip.txt": chat, "IMG-0001.jpg": b"\xff\xd8\xff"})

    assert uploaded_text(chat, "chat.txt") == chat.decode()
    assert uploaded_text(zipped, "export.zip") == chat.decode()
    assert uploaded_text(b"\xef\xbb\xbf" + chat, None) == chat.decode()  # a BOM is dropped


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_zip(**{"a.txt": b"x", "b.txt": b"y"}), "holds 2 .txt files"),
        (_zip(**{"photo.jpg": b"\xff"}), "holds 0 .txt files"),
        (b"PK\x03\x04 truncated", "cannot be read"),
        (b"\xff\xfe binary", "not UTF-8 text"),
    ],
)
def test_a_file_that_is_no_chat_export_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidRequest, match=reason):
        uploaded_text(data, "upload.zip" if data.startswith(b"PK") else "upload.txt")


def test_a_zip_bomb_is_refused_after_reading_a_bounded_prefix() -> None:
    bomb = _zip(**{"chat.txt": b"a" * (9 * 1024 * 1024)})  # compresses to a few KB

    assert len(bomb) < 100_000
    with pytest.raises(InvalidRequest, match="larger than 8 MiB"):
        uploaded_text(bomb, "chat.zip")


def test_each_task_builds_the_request_its_api_endpoint_takes() -> None:
    fields = {"model": "m", "language": "de", "focus": " sport ", "mode": "thorough"}
    feed = '{"posts": [{"id": "p1", "author": "a", "text": "hi"}]}'
    csv = "id,time,format,views,likes,comments,shares,text\np1,2024-01-01T00:00:00Z,text,1,1,0,0,x"

    explain = task_request(TaskForm("explain-conversation", fields, "chat text"))
    summary = task_request(TaskForm("summarize", fields, feed))
    tips_csv = task_request(TaskForm("creator-tips", fields, csv))
    tips_json = task_request(TaskForm("creator-tips", fields, feed))

    assert isinstance(explain, ExplainRequest) and explain.chat == "chat text"
    assert explain.mode == "thorough" and explain.language == "de"
    assert isinstance(summary, SummarizeRequest) and summary.focus == "sport"
    assert summary.posts == [{"id": "p1", "author": "a", "text": "hi"}]
    assert isinstance(tips_csv, TipsRequest) and tips_csv.csv == csv and tips_csv.posts is None
    assert isinstance(tips_json, TipsRequest) and tips_json.posts is not None


def test_posts_that_are_not_a_json_list_are_refused_naming_the_field() -> None:
    with pytest.raises(InvalidRequest, match="not valid JSON") as bad:
        task_request(TaskForm("summarize", {"model": "m"}, "{nope"))
    with pytest.raises(InvalidRequest, match="must be a JSON list"):
        task_request(TaskForm("summarize", {"model": "m"}, '{"a": 1}'))
    assert bad.value.param == "text"
