"""A task's progress as server-sent events (`stream: true`), over real HTTP: the stages, the
chunks read with their partial results, then the same answer the request gets unstreamed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.providers.openai_fake import OpenAIFake
from tests.providers.partner_kit import GPT_MINI, OPENAI_ENV, Partner, behind_corral
from tests.support import ADMIN_KEY, MODEL, RunningServer

FIXTURES = Path(__file__).resolve().parent.parent / "tasks" / "fixtures"


def events(base_url: str, task: str, body: dict[str, Any]) -> tuple[httpx.Response, list[Any]]:
    """The response and its events, in order (`[DONE]` as the string)."""
    with httpx.stream(
        "POST",
        f"{base_url}/v1/tasks/{task}",
        json={**body, "stream": True},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=300,
    ) as response:
        frames = [line.removeprefix("data: ") for line in response.iter_lines() if line]
    return response, [f if f == "[DONE]" else json.loads(f) for f in frames]


def whole(base_url: str, task: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{base_url}/v1/tasks/{task}",
        json=body,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=300,
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_a_streamed_summary_reports_its_stages_then_the_same_answer(
    server: RunningServer,
) -> None:
    feed = json.loads((FIXTURES / "handwritten" / "riverside_neighbours_en.json").read_text())
    body = {"model": MODEL, "posts": feed["posts"]}

    response, got = events(server.base_url, "summarize", body)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    progress = [e for e in got[:-2] if e["object"] == "task.progress"]
    assert [e["stage"] for e in progress] == ["read", "topics", "titles"]
    assert got[-1] == "[DONE]"
    assert got[-2] == whole(server.base_url, "summarize", body)  # seeded: the same answer


def test_a_bad_streamed_request_is_still_a_plain_400(server: RunningServer) -> None:
    response, got = events(server.base_url, "summarize", {"model": MODEL, "posts": [{"id": 1}]})

    assert response.status_code == 400
    assert "post 1" in got[0]["error"]["message"]


@pytest.fixture(scope="module")
def partner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Partner[OpenAIFake]]:
    config = GPT_MINI + "context_length = 1200\n"  # a few posts per call: a feed is chunked
    home = tmp_path_factory.mktemp("corral-partner")
    fake = OpenAIFake(keys=(OPENAI_ENV["FAKE_OPENAI_KEY"],))
    with behind_corral(fake, home, config, OPENAI_ENV) as running:
        yield running


def test_a_thorough_summary_streams_each_chunk_with_its_partial_topics(
    partner: Partner[OpenAIFake],
) -> None:
    fake = partner.fresh()

    def answer(request: dict[str, Any]) -> str:
        first = request["messages"][-1]["content"].split("]", 1)[0].lstrip("[")
        point = {"text": "A trip to the lake", "post_ids": [first]}
        return json.dumps({"topics": [{"title": "Lake trip", "points": [point]}]})

    fake.answer_with = answer
    posts = [
        {"id": f"p{i}", "author": f"user{i % 5}", "text": f"Post {i} about the lake trip."}
        for i in range(1, 61)
    ]
    body = {"model": "gpt-mini", "posts": posts, "mode": "thorough"}

    response, got = events(partner.server.base_url, "summarize", body)

    assert response.status_code == 200
    chunked = [e for e in got[:-2] if e["stage"] == "chunks" and "chunk" in e]
    n = chunked[0]["chunks"]
    assert n > 2 and sorted(e["chunk"] for e in chunked) == list(range(1, n + 1))
    assert all(e["partial"]["topics"][0]["title"] == "Lake trip" for e in chunked)
    stages = [e["stage"] for e in got[:-2]]
    assert stages[0] == "read" and "merging" in stages
    assert got[-2]["meta"]["chunks"] == n and got[-1] == "[DONE]"
    assert got[-2] == whole(partner.server.base_url, "summarize", body)
