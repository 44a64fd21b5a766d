"""The assistant tasks through a real server on the embedded model, and their bad inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from corral.tasks.chat_export import parse_chat, participants
from tests.support import ADMIN_KEY, MODEL, RunningServer

CSV_HEADER = "id,time,format,views,likes,comments,shares\n"
FIXTURES = Path(__file__).resolve().parent.parent / "tasks" / "fixtures"


def post(server: RunningServer, task: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/v1/tasks/{task}",
        json=body,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=300,
    )


def published(server: RunningServer, task: str) -> dict[str, Any]:
    response = httpx.get(
        f"{server.base_url}/v1/tasks/{task}/schema",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


def test_summarize_a_feed_citing_only_its_posts(server: RunningServer) -> None:
    feed = json.loads((FIXTURES / "feed_posts.json").read_text())["posts"][:8]

    response = post(server, "summarize", {"model": MODEL, "posts": feed})

    assert response.status_code == 200, response.text
    answer = response.json()
    jsonschema.validate(answer, published(server, "summarize"))
    cited = {i for topic in answer["topics"] for p in topic["points"] for i in p["post_ids"]}
    assert cited <= {p["id"] for p in feed}
    assert answer["meta"]["model"] == MODEL and answer["meta"]["chunks"] == 1


def test_explain_a_whatsapp_export(server: RunningServer) -> None:
    chat = "\n".join((FIXTURES / "whatsapp_android_en.txt").read_text().splitlines()[:40])

    response = post(server, "explain-conversation", {"model": MODEL, "chat": chat})

    assert response.status_code == 200, response.text
    answer = response.json()
    jsonschema.validate(answer, published(server, "explain-conversation"))
    lines = parse_chat(chat)
    expected = [{"name": n, "message_count": c} for n, c in participants(lines)]
    assert answer["participants"] == expected
    cited = {
        i for item in answer["decisions"] + answer["open_questions"] for i in item["message_ids"]
    }
    assert cited <= {line.id for line in lines}


def test_creator_tips_rest_on_computed_facts(server: RunningServer) -> None:
    csv = (FIXTURES / "creator_posts.csv").read_text()

    response = post(server, "creator-tips", {"model": MODEL, "csv": csv})

    assert response.status_code == 200, response.text
    answer = response.json()
    jsonschema.validate(answer, published(server, "creator-tips"))
    facts = {fact["id"] for fact in answer["facts"]}
    assert "format_video" in facts and "trend" in facts
    assert all(set(tip["fact_ids"]) <= facts for tip in answer["tips"])


@pytest.mark.parametrize(
    ("task", "body", "says"),
    [
        ("summarize", {"model": MODEL, "posts": []}, "posts"),
        ("explain-conversation", {"model": MODEL, "chat": ""}, "empty"),
        ("explain-conversation", {"model": MODEL, "chat": "Dear diary,\nhello"}, "WhatsApp"),
        ("explain-conversation", {"model": MODEL, "chat": "a\u0000b"}, "binary"),
        ("explain-conversation", {"model": MODEL}, "chat"),
        (
            "creator-tips",
            {"model": MODEL, "csv": CSV_HEADER + "p1,2024-01-01,video,x,1,1,1"},
            "line 2",
        ),
        ("creator-tips", {"model": MODEL, "posts": [{"id": "x"}]}, "post 1"),
    ],
)
def test_bad_input_is_a_400_that_names_the_problem(
    server: RunningServer, task: str, body: dict[str, Any], says: str
) -> None:
    response = post(server, task, body)

    assert response.status_code == 400, response.text
    assert says in response.json()["error"]["message"]


def test_an_upload_over_the_limit_is_a_413(server: RunningServer) -> None:
    body = b'{"model": "x", "chat": "' + b"a" * (11 * 1024 * 1024) + b'"}'

    response = httpx.post(
        f"{server.base_url}/v1/tasks/explain-conversation",
        content=body,
        headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"},
        timeout=60,
    )

    assert response.status_code == 413
    assert "limit" in response.json()["error"]["message"]


def test_an_unknown_task_has_no_schema(server: RunningServer) -> None:
    response = httpx.get(
        f"{server.base_url}/v1/tasks/poetry/schema",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )

    assert response.status_code == 404
