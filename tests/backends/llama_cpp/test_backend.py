"""`LlamaCppBackend` as the gateway calls it, on the real model."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from corral.backends.base import ChatMessage, GenerationRequest, SamplingParams
from corral.backends.llama_cpp import LlamaCppBackend
from corral.backends.schema_limits import SchemaLimits
from corral.errors import InvalidRequest
from corral.settings import LocalModelConfig


@pytest.fixture(scope="module")
def backend(model_path: Path) -> Iterator[LlamaCppBackend]:
    config = LocalModelConfig(name="smol", path=model_path, context_length=256)
    running = LlamaCppBackend(config, SchemaLimits(max_compiled_bound=100))
    yield running
    asyncio.run(running.close())


def chat(schema: dict[str, Any], max_tokens: int | None) -> GenerationRequest:
    params = SamplingParams(max_tokens=max_tokens, temperature=0, json_schema=schema)
    return GenerationRequest("req_1", params, messages=(ChatMessage("user", "Answer."),))


def test_an_empty_prompt_generates_from_the_start_of_a_document(
    backend: LlamaCppBackend,
) -> None:
    # The model adds no BOS of its own, so "" was no tokens at all: a 502 with no message.
    request = GenerationRequest("req_1", SamplingParams(max_tokens=4), prompt="")

    result = asyncio.run(backend.generate(request))

    assert result.usage.completion_tokens == 4
    assert result.usage.prompt_tokens == 1


def test_the_configured_compiled_bound_applies(backend: LlamaCppBackend) -> None:
    with pytest.raises(InvalidRequest, match="above 100"):
        asyncio.run(backend.count_prompt_tokens(chat({"type": "string", "minLength": 101}, 200)))


def test_without_max_tokens_the_rest_of_the_context_is_the_room(backend: LlamaCppBackend) -> None:
    # 256 tokens of context cannot hold 250 strings of 100 characters, whatever the tokens.
    wide = {f"p{i}": {"type": "string", "minLength": 100} for i in range(250)}
    schema = {"type": "object", "properties": wide, "required": list(wide)}

    with pytest.raises(InvalidRequest, match="token\\(s\\) can hold"):
        asyncio.run(backend.count_prompt_tokens(chat(schema, None)))
