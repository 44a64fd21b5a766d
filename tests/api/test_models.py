"""The model list and single model cards."""

from __future__ import annotations

import openai
import pytest

from tests.support import MODEL


def test_embedded_model_is_listed(client: openai.OpenAI) -> None:
    models = client.models.list()

    ids = [m.id for m in models.data]
    assert MODEL in ids
    card = client.models.retrieve(MODEL)
    assert card.owned_by == "corral"
    assert card.model_extra is not None
    assert card.model_extra["tier"] == "open"
    assert card.model_extra["licence"] == "apache-2.0"
    assert card.model_extra["context_length"] == 8192


def test_unknown_model_is_404_model_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("no-such-model")

    assert caught.value.code == "model_not_found"


def test_chat_with_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])

    assert caught.value.code == "model_not_found"
    assert caught.value.body["param"] == "model"  # type: ignore[index]


def test_every_answer_names_the_digest_of_the_model_card(client: openai.OpenAI) -> None:
    card = client.models.retrieve(MODEL)
    digest = (card.model_extra or {})["digest"]

    answer = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=2
    )
    with client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=2, stream=True
    ) as streamed:
        streamed_digest = streamed.headers["x-corral-model-digest"]

    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64
    assert answer.headers["x-corral-model-digest"] == digest
    assert streamed_digest == digest
