"""Embeddings from the embedded model, as floats and as base64."""

from __future__ import annotations

import base64
import math

import numpy as np
import openai
import pytest

from tests.support import MODEL


def test_one_vector_per_input_normalised(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model=MODEL, input=["a red apple", "the stock market"])

    assert [d.index for d in result.data] == [0, 1]
    assert len(result.data[0].embedding) == len(result.data[1].embedding) > 100
    assert math.sqrt(sum(x * x for x in result.data[0].embedding)) == pytest.approx(1, abs=1e-4)
    assert result.usage.prompt_tokens > 0
    assert result.data[0].embedding != result.data[1].embedding


def test_base64_decodes_to_the_float_vector(client: openai.OpenAI) -> None:
    as_floats = client.embeddings.create(model=MODEL, input="hello", encoding_format="float")
    raw = client.with_raw_response.embeddings.create(
        model=MODEL, input="hello", encoding_format="base64"
    )

    encoded = raw.http_response.json()["data"][0]["embedding"]
    decoded = np.frombuffer(base64.b64decode(encoded), dtype="<f4")
    assert decoded.tolist() == pytest.approx(as_floats.data[0].embedding, abs=1e-6)


def test_similar_texts_are_closer(client: openai.OpenAI) -> None:
    result = client.embeddings.create(
        model=MODEL, input=["I love cats", "I adore cats", "Quarterly tax filing deadline"]
    )
    cat, kitty, tax = (np.array(d.embedding) for d in result.data)

    assert float(cat @ kitty) > float(cat @ tax)
