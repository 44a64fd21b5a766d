"""`Idempotency-Key` end to end: replays pass the same checks as new requests, streams replay,
and stored answers are bounded."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from fastapi.responses import StreamingResponse

from corral.accounts.admin import KeySpec
from corral.api import sse
from corral.api.errors import envelope
from corral.api.replay import _recorded
from corral.errors import BackendFailed
from tests.accounts_kit import KEY_SECRET, Accounts, accounts, sdk, sqlite_url, usage_records
from tests.support import MODEL, RunningServer, echo_entry, in_process_services, start_server

HELLO: Any = [{"role": "user", "content": "Say hello"}]
STORY: Any = [{"role": "user", "content": "Write a long story about the sea."}]
ANSWER_LIMIT = 16384
"""Bytes of one stored answer (`idempotency.max_answer_bytes`) on this test's server."""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("idempotency-e2e")


@pytest.fixture(scope="module")
def operator(home: Path) -> Iterator[Accounts]:
    with accounts(home, sqlite_url(home)) as books:
        yield books


@pytest.fixture(scope="module")
def gateway(home: Path) -> Iterator[RunningServer]:
    running = start_server(home, f"[idempotency]\nmax_answer_bytes = {ANSWER_LIMIT}\n")
    yield running
    running.stop()


def test_a_replay_is_refused_to_a_key_scoped_away_from_the_model(
    gateway: RunningServer, operator: Accounts
) -> None:
    allowed = operator.tenant_with_key("scoped")
    elsewhere = operator.key(allowed.tenant, KeySpec(models=["some-other-model"]))
    headers = {"Idempotency-Key": "scoped-1"}
    with sdk(gateway, allowed.secret) as client:
        client.chat.completions.create(
            model=MODEL, messages=HELLO, max_tokens=4, seed=1, extra_headers=headers
        )

    with sdk(gateway, elsewhere.secret) as other, pytest.raises(openai.PermissionDeniedError) as no:
        other.chat.completions.create(
            model=MODEL, messages=HELLO, max_tokens=4, seed=1, extra_headers=headers
        )

    assert "some-other-model" in no.value.message


def streamed(client: openai.OpenAI, key: str) -> tuple[str, bool, Any]:
    """The text, whether the stream ended with usage, and the raw response's headers."""
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=HELLO,
        max_tokens=8,
        seed=1,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"Idempotency-Key": key},
    )
    text, usage = "", None
    for chunk in raw.parse():
        text += "".join(choice.delta.content or "" for choice in chunk.choices)
        usage = chunk.usage or usage
    return text, usage is not None, raw.headers


def test_a_streamed_answer_is_replayed_whole_and_billed_once(
    gateway: RunningServer, operator: Accounts, home: Path
) -> None:
    caller = operator.tenant_with_key("streaming")

    with sdk(gateway, caller.secret) as client:
        first, first_usage, first_headers = streamed(client, "stream-1")
        retry, retry_usage, retry_headers = streamed(client, "stream-1")

    assert first and first_usage
    assert (retry, retry_usage) == (first, first_usage)
    assert retry_headers.get("idempotent-replayed") == "true"
    assert retry_headers.get("content-type", "").startswith("text/event-stream")
    assert "idempotent-replayed" not in first_headers
    assert len(usage_records(sqlite_url(home), caller.tenant.id)) == 1


def test_an_answer_over_the_limit_is_not_stored_and_says_so(
    gateway: RunningServer, operator: Accounts, home: Path
) -> None:
    caller = operator.tenant_with_key("bulky")
    headers = {"Idempotency-Key": "bulky-1"}
    many = ["a sentence to embed"] * 16  # ~16 vectors of 576 floats: far over 16 KB

    with sdk(gateway, caller.secret) as client:
        first = client.embeddings.with_raw_response.create(
            model=MODEL, input=many, extra_headers=headers
        )
        with pytest.raises(openai.ConflictError) as retry:
            client.embeddings.create(model=MODEL, input=many, extra_headers=headers)

    assert first.status_code == 200 and len(first.parse().data) == 16
    assert first.headers.get("idempotency-stored") == "false"
    assert retry.value.code == "idempotency_answer_not_stored"
    assert str(ANSWER_LIMIT) in retry.value.message
    assert len(usage_records(sqlite_url(home), caller.tenant.id)) == 1  # billed once


def test_a_retry_after_kill_9_runs_within_seconds(home: Path) -> None:
    shared = {"CORRAL_DATABASE_URL": sqlite_url(home), "CORRAL_KEY_SECRET": KEY_SECRET}
    with accounts(home, sqlite_url(home), KEY_SECRET) as books:
        caller = books.tenant_with_key("crashing")
    config = "[idempotency]\nclaim_lease_s = 3\n"
    doomed = start_server(home / "first", config, env=shared)
    headers = {"Idempotency-Key": "crash-1"}
    with sdk(doomed, caller.secret) as client:
        story = client.chat.completions.create(
            model=MODEL, messages=STORY, max_tokens=4000, stream=True, extra_headers=headers
        )
        next(iter(story))  # generating: its claim is taken
        doomed.kill()  # -9, workers too: no shutdown, no release of the claim
        with pytest.raises((openai.APIConnectionError, httpx.TransportError)):
            for _ in story:
                pass

    successor = start_server(home / "second", env=shared)
    try:
        with sdk(successor, caller.secret) as client:
            deadline = time.monotonic() + 10
            while True:
                try:
                    retry = client.chat.completions.create(
                        model=MODEL,
                        messages=STORY,
                        max_tokens=4000,
                        stream=True,
                        extra_headers=headers,
                    )
                    text = "".join(c.choices[0].delta.content or "" for c in retry if c.choices)
                    break
                except openai.ConflictError:  # until the dead process's lease has expired
                    assert time.monotonic() < deadline, "the dead process's claim was kept"
                    time.sleep(0.5)
    finally:
        successor.stop()
    assert text


async def test_a_stream_cut_short_by_an_error_gives_its_key_back(tmp_path: Path) -> None:
    services = in_process_services(tmp_path, echo_entry())
    store = services.idempotency
    assert store.claim("ten_a", "cut-1", "digest") is None

    async def failing() -> AsyncIterator[bytes]:
        yield sse.event({"choices": [{"index": 0, "delta": {"content": "Hel"}}]})
        yield sse.event(envelope(BackendFailed("Local model 'echo' failed")))

    stream = StreamingResponse(failing(), media_type="text/event-stream")
    frames = [f async for f in _recorded(failing(), stream, services, "ten_a", "cut-1")]

    assert len(frames) == 2
    assert store.claim("ten_a", "cut-1", "digest") is None  # free: the retry runs anew
    services.db.close()
