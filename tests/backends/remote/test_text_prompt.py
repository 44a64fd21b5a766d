"""Partners take completion prompts as text only: scoring and token ids are refused by name."""

from __future__ import annotations

import pytest

from corral.backends.base import GenerationRequest, SamplingParams
from corral.backends.remote.common import text_prompt
from corral.errors import InvalidRequest


def test_a_text_prompt_passes_as_it_is() -> None:
    assert text_prompt(GenerationRequest("r", SamplingParams(), prompt="Once")) == "Once"


def test_token_ids_are_refused_naming_the_prompt() -> None:
    request = GenerationRequest("r", SamplingParams(), prompt_tokens=(1, 2, 3))

    with pytest.raises(InvalidRequest, match="token ids") as caught:
        text_prompt(request)
    assert caught.value.param == "prompt"


def test_prompt_scoring_is_refused_naming_echo() -> None:
    request = GenerationRequest("r", SamplingParams(logprobs=True), prompt="Once", echo=True)

    with pytest.raises(InvalidRequest, match="local models only") as caught:
        text_prompt(request)
    assert caught.value.param == "echo"
