"""Local inference under contention: a bounded queue, 503 when full, and abandoned streams
that free the model at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest

from tests.support import ADMIN_KEY, MODEL, RunningServer, start_server

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
LONG_STORY = {
    "model": MODEL,
    "messages": [{"role": "user", "content": "Write a very long story."}],
    "max_tokens": 4000,
    "temperature": 0,  # greedy: the same long answer every run (sampling once ended it early)
    "stream": True,
}


@pytest.fixture(scope="module")
def single_slot_server(
    tmp_path_factory: pytest.TempPathFactory, model_path: Path
) -> Iterator[RunningServer]:
    """One instance and no waiting room: any second request while busy must get a 503."""
    config = f"""
embedded_model = false
[[models]]
name = "{MODEL}"
path = "{model_path}"
instances = 1
queue_size = 0
"""
    running = start_server(tmp_path_factory.mktemp("single-slot"), config)
    yield running
    running.stop()


def quick_request(server: RunningServer) -> httpx.Response:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    return httpx.post(f"{server.base_url}/v1/chat/completions", json=body, headers=AUTH, timeout=30)


def test_full_queue_gets_503_with_retry_after(single_slot_server: RunningServer) -> None:
    url = f"{single_slot_server.base_url}/v1/chat/completions"
    with httpx.stream("POST", url, json=LONG_STORY, headers=AUTH, timeout=30) as busy:
        lines = busy.iter_lines()
        assert next(lines).startswith("data: ")

        refused = quick_request(single_slot_server)

    assert refused.status_code == 503
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["code"] == "model_overloaded"


def test_embeddings_share_the_bounded_queue(single_slot_server: RunningServer) -> None:
    url = f"{single_slot_server.base_url}/v1/embeddings"
    long_inputs = {"model": MODEL, "input": ["A sentence about the weather today. " * 8] * 32}
    with ThreadPoolExecutor(1) as pool:
        busy = pool.submit(httpx.post, url, json=long_inputs, headers=AUTH, timeout=120)
        time.sleep(0.5)
        refused = httpx.post(url, json={"model": MODEL, "input": "hi"}, headers=AUTH, timeout=30)
        assert busy.result().status_code == 200

    assert refused.status_code == 503
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["code"] == "model_overloaded"


def wait_until_free(server: RunningServer, seconds: float) -> httpx.Response:
    deadline = time.monotonic() + seconds
    response = quick_request(server)
    while response.status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.05)
        response = quick_request(server)
    return response


def test_abandoned_stream_frees_the_model_at_once(single_slot_server: RunningServer) -> None:
    url = f"{single_slot_server.base_url}/v1/chat/completions"
    assert wait_until_free(single_slot_server, 3).status_code == 200
    with httpx.stream("POST", url, json=LONG_STORY, headers=AUTH, timeout=30) as story:
        received = [line for _, line in zip(range(6), story.iter_lines(), strict=False)]
    assert len(received) == 6  # generating; 4,000 tokens would keep the model busy for long

    response = wait_until_free(single_slot_server, 3)

    assert response.status_code == 200, "the abandoned generation still holds the model"


def test_concurrent_requests_queue_and_all_succeed(client: openai.OpenAI) -> None:
    def ask(i: int) -> int:
        completion = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": f"Write a long essay about the number {i}."}],
            max_tokens=6,
            temperature=0,
        )
        assert completion.usage is not None
        return completion.usage.completion_tokens

    with ThreadPoolExecutor(4) as pool:
        produced = list(pool.map(ask, range(4)))

    assert produced == [6, 6, 6, 6]


def test_client_leaving_a_whole_answer_frees_the_model(single_slot_server: RunningServer) -> None:
    assert wait_until_free(single_slot_server, 3).status_code == 200
    body = {**LONG_STORY, "stream": False}
    url = f"{single_slot_server.base_url}/v1/chat/completions"

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url, json=body, headers=AUTH, timeout=0.5)  # gives up while it generates

    assert wait_until_free(single_slot_server, 3).status_code == 200
