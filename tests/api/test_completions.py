"""Legacy prompt completions, whole and streamed."""

from __future__ import annotations

import openai

from tests.support import MODEL


def test_completion_continues_the_prompt(client: openai.OpenAI) -> None:
    completion = client.completions.create(
        model=MODEL, prompt="The capital of France is", max_tokens=5, temperature=0
    )

    assert completion.object == "text_completion"
    assert completion.choices[0].text
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 5


def test_echo_prefixes_the_prompt(client: openai.OpenAI) -> None:
    completion = client.completions.create(
        model=MODEL, prompt="One, two,", max_tokens=3, temperature=0, echo=True
    )

    assert completion.choices[0].text.startswith("One, two,")


def test_stream_matches_whole_completion(client: openai.OpenAI) -> None:
    whole = client.completions.create(
        model=MODEL, prompt="Roses are red,", max_tokens=10, temperature=0
    )

    chunks = list(
        client.completions.create(
            model=MODEL,
            prompt="Roses are red,",
            max_tokens=10,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == whole.choices[0].text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 10


def test_an_empty_prompt_generates_from_the_start(client: openai.OpenAI) -> None:
    completion = client.completions.create(model=MODEL, prompt="", max_tokens=4)

    assert completion.usage is not None and completion.usage.completion_tokens == 4
