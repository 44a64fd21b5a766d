"""Logprobs returned by the API equal a log-softmax computed directly from the model's logits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import numpy as np
import openai
import pytest

from corral.backends.llama_cpp.loader import KV_CACHE_TYPES
from corral.settings import LocalModelConfig
from tests.support import MODEL

PROMPT = "Once upon a time"
STEPS = 6
TOP = 3


@pytest.fixture(scope="module")
def reference(model_path: Path) -> Iterator[llama_cpp.Llama]:
    """The served model's own settings, but keeping every position's logits."""
    served = LocalModelConfig(name=MODEL, path=model_path)
    kv_type = KV_CACHE_TYPES[served.kv_cache_type]
    llama = llama_cpp.Llama(
        str(model_path),
        n_ctx=256,
        logits_all=True,
        flash_attn=served.flash_attention,
        type_k=kv_type,
        type_v=kv_type,
        verbose=False,
    )
    yield llama
    llama.close()


def greedy_with_logprobs(llama: llama_cpp.Llama) -> list[tuple[bytes, float, dict[str, float]]]:
    """Greedy decoding by hand: evaluate, log-softmax the last row, take the argmax."""
    llama.reset()  # type: ignore[no-untyped-call]
    tokens = llama.tokenize(PROMPT.encode(), add_bos=True, special=False)
    steps = []
    for _ in range(STEPS):
        llama.eval(tokens)
        row = llama.scores[llama.n_tokens - 1].astype(np.float64)
        logprobs = row - row.max() - np.log(np.exp(row - row.max()).sum())
        token = int(np.argmax(logprobs))
        top = np.argsort(-logprobs)[:TOP]
        alternatives = {
            llama.detokenize([int(t)]).decode("utf-8", "replace"): float(logprobs[t]) for t in top
        }
        steps.append((llama.detokenize([token]), float(logprobs[token]), alternatives))
        tokens = [token]
    return steps


def test_completion_logprobs_match_direct_computation(
    client: openai.OpenAI, reference: llama_cpp.Llama
) -> None:
    expected = greedy_with_logprobs(reference)

    completion = client.completions.create(
        model=MODEL, prompt=PROMPT, max_tokens=STEPS, temperature=0, logprobs=TOP
    )

    got = completion.choices[0].logprobs
    assert got is not None and got.tokens and got.token_logprobs and got.top_logprobs
    assert [t.encode() for t in got.tokens] == [raw for raw, _, _ in expected]
    for returned, (_, logprob, alternatives), top in zip(
        got.token_logprobs, expected, got.top_logprobs, strict=True
    ):
        assert returned == pytest.approx(logprob, abs=2e-3)
        assert top.keys() == alternatives.keys()
        for token, value in alternatives.items():
            assert top[token] == pytest.approx(value, abs=2e-3)


def test_chat_logprobs_cover_every_token(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=5,
        temperature=0,
        logprobs=True,
        top_logprobs=2,
    )

    choice = completion.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content is not None
    items = choice.logprobs.content
    assert len(items) == 5
    assert "".join(i.token for i in items) == choice.message.content
    for item in items:
        assert item.logprob <= 0
        assert len(item.top_logprobs) == 2
        assert item.top_logprobs[0].logprob >= item.top_logprobs[1].logprob
        assert item.logprob == pytest.approx(item.top_logprobs[0].logprob)  # greedy
        assert bytes(item.bytes or []) == item.token.encode()
