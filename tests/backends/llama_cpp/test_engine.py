"""The generation loop on a real model: exact token counts, limits and cancellation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import pytest
from llama_cpp.llama_grammar import LlamaGrammar

from corral.backends.base import SamplingParams, TextDelta, UsageMeter
from corral.backends.llama_cpp import engine
from corral.cancellation import Cancellation


@pytest.fixture(scope="module")
def llama(model_path: Path) -> Iterator[llama_cpp.Llama]:
    model = llama_cpp.Llama(str(model_path), n_ctx=512, verbose=False)
    yield model
    model.close()


def run(
    llama: llama_cpp.Llama, params: SamplingParams, cancel: Cancellation | None = None
) -> tuple[str, engine.GenerationOutcome]:
    prompt = llama.tokenize(b"The history of the sea", add_bos=True, special=False)
    pieces: list[TextDelta] = []
    outcome = engine.generate(
        llama, prompt, params, None, cancel or Cancellation(), pieces.append, UsageMeter()
    )
    return "".join(p.text for p in pieces), outcome


def test_counts_exactly_the_tokens_produced(llama: llama_cpp.Llama) -> None:
    text, outcome = run(llama, SamplingParams(max_tokens=20, temperature=0))

    assert outcome.reason == "length"
    assert outcome.usage.completion_tokens == 20
    assert outcome.usage.prompt_tokens == len(llama.tokenize(b"The history of the sea"))
    assert llama.detokenize(llama.tokenize(text.encode(), add_bos=False)).decode() == text


def test_cancel_stops_within_one_token(llama: llama_cpp.Llama) -> None:
    cancel = Cancellation()
    produced: list[TextDelta] = []

    def emit(delta: TextDelta) -> None:
        produced.append(delta)
        if len(produced) == 3:
            cancel.set()

    prompt = llama.tokenize(b"Once", add_bos=True, special=False)
    meter = UsageMeter()
    outcome = engine.generate(
        llama, prompt, SamplingParams(max_tokens=400), None, cancel, emit, meter
    )

    assert outcome.reason == "cancelled"
    assert outcome.usage.completion_tokens == 3
    # What billing reads when a client leaves: the tokens actually produced, and the prompt.
    assert (meter.prompt_tokens, meter.completion_tokens) == (len(prompt), 3)


def test_cancel_stops_a_long_prompt_between_two_batches(
    model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = llama_cpp.Llama(str(model_path), n_ctx=512, n_batch=64, verbose=False)
    cancel = Cancellation()
    evaluated: list[int] = []
    evaluate = model.eval

    def client_leaves_during_the_first_batch(batch: list[int]) -> None:
        evaluate(batch)
        evaluated.append(len(batch))
        cancel.set()

    monkeypatch.setattr(model, "eval", client_leaves_during_the_first_batch)
    prompt = model.tokenize(b"The sea is wide and deep. " * 40, add_bos=True, special=False)
    try:
        outcome = engine.generate(
            model, prompt, SamplingParams(max_tokens=20), None, cancel, print, UsageMeter()
        )
    finally:
        model.close()

    assert len(prompt) > 4 * 64 and engine.PROMPT_STEP >= 64
    assert outcome.reason == "cancelled"
    assert outcome.usage.completion_tokens == 0
    assert evaluated == [64]  # not the other batches of the prompt


def test_a_prompt_evaluated_in_steps_gives_llamas_own_answer(
    model_path: Path, llama: llama_cpp.Llama
) -> None:
    prompt = llama.tokenize(b"The sea is wide and deep. " * 30, add_bos=True, special=False)
    reference = llama_cpp.Llama(str(model_path), n_ctx=512, verbose=False)
    try:
        expected = reference.create_completion(prompt, max_tokens=12, temperature=0)
    finally:
        reference.close()
    pieces: list[TextDelta] = []

    engine.generate(
        llama,
        prompt,
        SamplingParams(max_tokens=12, temperature=0),
        None,
        Cancellation(),
        pieces.append,
        UsageMeter(),
    )

    assert len(prompt) > engine.PROMPT_STEP
    assert "".join(p.text for p in pieces) == expected["choices"][0]["text"]  # type: ignore[index]


def test_generation_never_runs_past_the_context(llama: llama_cpp.Llama) -> None:
    _, outcome = run(llama, SamplingParams(max_tokens=None, temperature=0, stop=("\n\n\n",)))

    assert outcome.usage.total_tokens <= llama.n_ctx()


def test_log_softmax_is_a_distribution() -> None:
    import numpy as np

    logprobs = engine.log_softmax(np.array([1.0, 2.0, 3.0], dtype=np.float32))

    assert float(np.exp(logprobs).sum()) == pytest.approx(1.0)
    assert logprobs.argmax() == 2


def test_a_finished_generation_frees_its_sampler_and_grammar(llama: llama_cpp.Llama) -> None:
    # llama-cpp-python keeps the last sampler chain (with the request's compiled grammar) on
    # the instance until its next request; a large grammar stayed in memory that long.
    grammar = LlamaGrammar.from_string('root ::= "yes" | "no"\n', verbose=False)
    prompt = llama.tokenize(b"Yes or no?", add_bos=True, special=False)

    engine.generate(
        llama,
        prompt,
        SamplingParams(max_tokens=4),
        grammar,
        Cancellation(),
        lambda _: None,
        UsageMeter(),
    )

    assert llama._sampler is None
