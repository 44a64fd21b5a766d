"""The serving layer on its own: OpenAI's shapes from a fake backend, no HTTP server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from corral.api.chat.protocol import ChatCompletionRequest
from corral.api.chat.serving import ChatServing
from corral.api.embeddings.protocol import EmbeddingRequest
from corral.api.embeddings.serving import EmbeddingServing
from corral.pipeline.auth import Principal
from corral.pipeline.gateway import Gateway, RequestContext
from tests.support import echo_entry, in_process_services

CTX = RequestContext(request_id="req_test", principal=Principal(kind="admin", key_id="admin"))


@pytest.fixture
def gateway(tmp_path: Path) -> Gateway:
    return in_process_services(tmp_path, echo_entry()).gateway


def chat_request(**fields: object) -> ChatCompletionRequest:
    body = {"model": "echo", "messages": [{"role": "user", "content": "one two three"}], **fields}
    return ChatCompletionRequest.model_validate_json(json.dumps(body))


async def test_non_stream_response(gateway: Gateway) -> None:
    response = await ChatServing(gateway).create(CTX, chat_request())

    assert isinstance(response, dict)
    assert response["id"] == "chatcmpl-test"
    assert response["choices"][0]["message"]["content"] == "one two three "
    assert response["usage"]["completion_tokens"] == 3


async def test_stream_frames(gateway: Gateway) -> None:
    stream = await ChatServing(gateway).create(
        CTX, chat_request(stream=True, stream_options={"include_usage": True}, max_tokens=2)
    )
    assert isinstance(stream, AsyncIterator)

    frames = [frame async for frame in stream]

    assert all(f.startswith(b"data: ") and f.endswith(b"\n\n") for f in frames)
    assert frames[-1] == b"data: [DONE]\n\n"
    chunks = [json.loads(f[6:]) for f in frames[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [c["choices"][0]["delta"].get("content") for c in chunks[1:3]] == ["one ", "two "]
    assert chunks[3]["choices"][0]["finish_reason"] == "stop"
    assert chunks[4]["choices"] == [] and chunks[4]["usage"]["completion_tokens"] == 2


async def test_embeddings_in_base64(gateway: Gateway) -> None:
    request = EmbeddingRequest.model_validate(
        {"model": "echo", "input": ["ab"], "encoding_format": "base64"}
    )

    response = await EmbeddingServing(gateway).create(CTX, request)

    assert isinstance(response["data"][0]["embedding"], str)
    assert response["usage"]["prompt_tokens"] == 1
