"""Scoring prompts through /v1/completions as evaluation harnesses do (echo, logprobs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np
import openai
import pytest

from corral.backends.llama_cpp.engine import log_softmax
from corral.backends.llama_cpp.loader import KV_CACHE_TYPES
from tests.support import MODEL

CONTEXT = "Question: What colour is the sky on a clear day?\nAnswer:"
OPTIONS = [" blue", " green", " red", " purple"]


@pytest.fixture(scope="module")
def direct(model_path: Path) -> Iterator[llama_cpp.Llama]:
    """The same GGUF read by llama-cpp-python itself, with the server's attention and KV cache
    settings, every position's logits kept."""
    q8 = KV_CACHE_TYPES["q8_0"]
    llama = llama_cpp.Llama(
        str(model_path),
        n_ctx=512,
        logits_all=True,
        flash_attn=True,
        type_k=q8,
        type_v=q8,
        verbose=False,
    )
    yield llama
    llama.close()


def direct_logprobs(llama: llama_cpp.Llama, text: str) -> list[float]:
    tokens = llama.tokenize(text.encode(), add_bos=True, special=False)
    llama.n_tokens = 0  # nothing reused from the previous text
    llama.eval(tokens)
    return [float(log_softmax(llama.scores[i - 1])[tokens[i]]) for i in range(1, len(tokens))]


def score(client: openai.OpenAI, prompt: Any, **extra: Any) -> Any:
    return client.completions.create(
        model=MODEL, prompt=prompt, echo=True, logprobs=1, max_tokens=0, **extra
    )


def test_an_echoed_prompt_carries_the_logprob_of_every_token_as_llama_cpp_computes_it(
    client: openai.OpenAI, direct: llama_cpp.Llama
) -> None:
    text = CONTEXT + OPTIONS[0]
    completion = score(client, text)

    choice = completion.choices[0]
    lp = choice.logprobs
    assert choice.text == text
    assert "".join(lp.tokens) == text
    assert lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
    assert lp.text_offset[0] == 0
    assert lp.text_offset == sorted(lp.text_offset)
    np.testing.assert_allclose(lp.token_logprobs[1:], direct_logprobs(direct, text), atol=0, rtol=0)
    assert completion.usage is not None and completion.usage.completion_tokens == 0


def test_options_sharing_a_context_score_as_if_each_were_sent_alone(
    client: openai.OpenAI, direct: llama_cpp.Llama
) -> None:
    together = score(client, [CONTEXT + option for option in OPTIONS])

    assert [c.index for c in together.choices] == [0, 1, 2, 3]
    for option, choice in zip(OPTIONS, together.choices, strict=True):
        expected = direct_logprobs(direct, CONTEXT + option)
        np.testing.assert_allclose(choice.logprobs.token_logprobs[1:], expected, atol=0, rtol=0)
    alone = score(client, CONTEXT + OPTIONS[2])
    assert alone.choices[0].logprobs.token_logprobs == together.choices[2].logprobs.token_logprobs


def test_the_common_answer_outscores_the_odd_one(client: openai.OpenAI) -> None:
    completion = score(client, [CONTEXT + option for option in OPTIONS])

    context_tokens = len(score(client, CONTEXT).choices[0].logprobs.tokens)
    totals = [sum(c.logprobs.token_logprobs[context_tokens:]) for c in completion.choices]
    assert totals[0] > totals[3]


def test_token_id_prompts_are_echoed_as_the_models_own_text(
    client: openai.OpenAI, direct: llama_cpp.Llama
) -> None:
    ids = direct.tokenize(CONTEXT.encode(), add_bos=True, special=False)

    single = score(client, ids)
    several = score(client, [ids, ids[:5]])

    assert single.choices[0].text == CONTEXT
    assert [c.text for c in several.choices] == [CONTEXT, direct.detokenize(ids[:5]).decode()]
    assert several.choices[0].logprobs.token_logprobs == single.choices[0].logprobs.token_logprobs


def test_generation_after_an_echoed_prompt_continues_it(client: openai.OpenAI) -> None:
    completion = client.completions.create(
        model=MODEL, prompt=CONTEXT, echo=True, logprobs=2, max_tokens=3, temperature=0
    )

    choice = completion.choices[0]
    lp: Any = choice.logprobs
    assert choice.text.startswith(CONTEXT)
    assert "".join(lp.tokens) == choice.text
    assert len(lp.top_logprobs[-1]) == 2
    assert completion.usage is not None and completion.usage.completion_tokens == 3


@pytest.mark.parametrize(
    ("extra", "param", "words"),
    [
        ({"prompt": "Hi", "max_tokens": 0}, "max_tokens", "needs 'echo'"),
        ({"prompt": [10**9], "echo": True, "max_tokens": 0}, "prompt", "not in the vocabulary"),
        ({"prompt": [], "max_tokens": 1}, "prompt", "from 1 to 256"),
        ({"prompt": ["a", "b"], "stream": True}, "prompt", "one prompt"),
    ],
)
def test_bad_scoring_requests_are_400s_naming_the_parameter(
    client: openai.OpenAI, extra: dict[str, Any], param: str, words: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model=MODEL, **extra)

    body: dict[str, Any] = caught.value.body  # type: ignore[assignment]
    assert body["param"] == param
    assert words in body["message"]
