"""What partners take of a request: text prompts only; logit biases where the provider has them."""

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


def test_logit_bias_goes_to_openai_as_its_own_field() -> None:
    from corral.backends.openai_api.translate import sampling

    wire = sampling(SamplingParams(logit_bias=((42, -100.0),)), "max_tokens")

    assert wire["logit_bias"] == {"42": -100.0}


def test_providers_without_logit_bias_refuse_it_by_name() -> None:
    from corral.backends.remote.common import refuse_logit_bias

    with pytest.raises(InvalidRequest, match="Anthropic models take no 'logit_bias'") as caught:
        refuse_logit_bias(SamplingParams(logit_bias=((1, 5.0),)), "Anthropic")
    assert caught.value.param == "logit_bias"
