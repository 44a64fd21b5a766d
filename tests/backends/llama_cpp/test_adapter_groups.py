"""Fine-tuned models on a batched base (`slots` > 1): requests of the base and of two adapters
at once each write what they write alone, a prefix cached under one adapter is reused by that
adapter only, and groups take turns so every stream progresses."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import llama_cpp
import pytest

from corral.backends.base import (
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    SamplingParams,
    TextDelta,
    UsageMeter,
)
from corral.backends.llama_cpp import LlamaCppBackend
from corral.backends.llama_cpp.adapters import AdapterBackend
from corral.backends.llama_cpp.scheduler import Scheduler
from corral.backends.llama_cpp.sequence import Sequence
from corral.cancellation import Cancellation
from corral.errors import BackendFailed
from corral.settings import LocalModelConfig
from tests.finetune.test_adapters import random_adapter

QUESTIONS = ["Name a colour.", "Say hello."]


@pytest.fixture(scope="module")
def adapters(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    directory = tmp_path_factory.mktemp("adapters")
    return [random_adapter(directory / f"{seed}.gguf", seed=seed) for seed in (1, 2)]


def backend(model_path: Path, slots: int) -> LlamaCppBackend:
    return LlamaCppBackend(
        LocalModelConfig(name="smol", path=model_path, context_length=512, slots=slots)
    )


def ask(question: str, max_tokens: int = 16) -> GenerationRequest:
    params = SamplingParams(max_tokens=max_tokens, temperature=0)
    return GenerationRequest("req", params, messages=(ChatMessage("user", question),))


def served(base: LlamaCppBackend, adapter: Path | None) -> LlamaCppBackend | AdapterBackend:
    """The base itself, or a fine-tuned model on it as the catalog serves one."""
    return base if adapter is None else AdapterBackend(base, adapter, f"ft:smol:{adapter.stem}")


def test_base_and_fine_tuned_requests_batched_write_what_each_writes_alone(
    model_path: Path, adapters: list[Path]
) -> None:
    one, two = adapters
    # As many requests as slots: each writes into a fresh part of the cache. A sequence given
    # another's freed cells may part from its text alone some tokens on, adapter or not
    # (`test_scheduler.LAYOUT`).
    cases = [(QUESTIONS[0], None), (QUESTIONS[0], one), (QUESTIONS[1], two), (QUESTIONS[1], None)]

    async def answers(slots: int) -> list[str]:
        base = backend(model_path, slots)
        try:
            if slots == 1:  # one after the other: the reference
                results = [await served(base, a).generate(ask(q)) for q, a in cases]
            else:  # all at once, base and adapters interleaved
                results = await asyncio.gather(
                    *(served(base, a).generate(ask(q)) for q, a in cases)
                )
        finally:
            await base.close()
        return [result.text for result in results]

    alone = asyncio.run(answers(1))
    batched = asyncio.run(answers(4))

    assert batched == alone
    assert alone[0] != alone[1]  # the adapters are strong: their answers are their own
    assert alone[2] != alone[3]


def test_a_prefix_cached_under_one_adapter_is_reused_by_that_adapter_only(
    model_path: Path, adapters: list[Path]
) -> None:
    one, two = adapters
    question = "Tell me about the tides of the harbour and the ships that wait for them."

    async def cached(order: list[Path | None]) -> list[int]:
        base = backend(model_path, 4)
        try:
            results: list[GenerationResult] = []
            for adapter in order:
                results.append(await served(base, adapter).generate(ask(question, 4)))
        finally:
            await base.close()
        return [result.usage.cached_tokens for result in results]

    first, other, base, again = asyncio.run(cached([one, two, None, one]))

    assert (first, other, base) == (0, 0, 0)
    assert again > 20  # the whole prompt but its last token


def test_echo_scoring_of_a_fine_tuned_model_on_a_batched_base_matches_one_slot(
    model_path: Path, adapters: list[Path]
) -> None:
    def scoring() -> GenerationRequest:
        params = SamplingParams(max_tokens=3, temperature=0, logprobs=True)
        return GenerationRequest("req", params, prompt="The history of the sea", echo=True)

    async def scored(slots: int, adapter: Path | None) -> list[float | None]:
        base = backend(model_path, slots)
        try:
            result = await served(base, adapter).generate(scoring())
        finally:
            await base.close()
        return [entry.logprob for entry in result.logprobs or []]

    tuned = asyncio.run(scored(2, adapters[0]))

    assert tuned == asyncio.run(scored(1, adapters[0]))
    assert tuned != asyncio.run(scored(2, None))


def test_a_fine_tuned_model_whose_adapter_is_gone_fails_alone(
    model_path: Path, tmp_path: Path
) -> None:
    gone = tmp_path / "deleted.gguf"

    async def scenario() -> tuple[BaseException | None, str]:
        base = backend(model_path, 2)
        try:
            failed, answered = await asyncio.gather(
                served(base, gone).generate(ask("Say hello.")),
                base.generate(ask("Say hello.")),
                return_exceptions=True,
            )
        finally:
            await base.close()
        assert isinstance(answered, GenerationResult)
        return (failed if isinstance(failed, BaseException) else None), answered.text

    failed, text = asyncio.run(scenario())

    assert isinstance(failed, BackendFailed)
    assert text


# -- the scheduler: groups taking turns ---------------------------------------------------------


class Writer:
    """Sequences on one prompt whose pieces are logged, with who wrote them, in order."""

    def __init__(self, llama: llama_cpp.Llama) -> None:
        self.tokens = llama.tokenize(b"Once upon a time", add_bos=True, special=False)
        self.written: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def sequence(self, name: str, adapter: Path | None) -> Sequence:
        def emit(delta: TextDelta) -> None:
            with self._lock:
                self.written.append((name, delta.text))

        params = SamplingParams(max_tokens=12, temperature=0)
        return Sequence(
            self.tokens, params, None, Cancellation(), emit, UsageMeter(), adapter=adapter
        )

    def text(self, name: str) -> str:
        return "".join(text for who, text in self.written if who == name)


def run_all(scheduler: Scheduler, sequences: list[Sequence]) -> None:
    for sequence in sequences:
        scheduler.submit(sequence)
    for sequence in sequences:
        sequence.future.result(timeout=300)


def test_the_base_and_a_fine_tuned_stream_take_turns(
    llama: llama_cpp.Llama, adapters: list[Path]
) -> None:
    writer = Writer(llama)
    scheduler = Scheduler(llama, 2, kv_cells=1024, context_length=512)
    try:
        run_all(scheduler, [writer.sequence("base", None), writer.sequence("tuned", adapters[0])])
        switches = scheduler.adapters.switches
    finally:
        scheduler.close()

    # Neither waits for the other to finish: in the first ten pieces, both wrote.
    first = [who for who, _ in writer.written[:10]]
    assert first.count("base") >= 4
    assert first.count("tuned") >= 4
    assert switches >= 20  # about one per step while both ran


def test_more_adapters_at_once_than_the_limit_each_write_their_own_text(
    llama: llama_cpp.Llama, adapters: list[Path]
) -> None:
    def texts(limit: int) -> tuple[list[str], list[Path]]:
        writer = Writer(llama)
        scheduler = Scheduler(llama, 2, kv_cells=1024, context_length=512, max_adapters=limit)
        try:
            one, two = (writer.sequence(a.stem, a) for a in adapters)
            run_all(scheduler, [one, two])  # two adapters running at once, over a limit of one
            run_all(scheduler, [writer.sequence("base", None)])
            loaded = scheduler.adapters.loaded.loaded
        finally:
            scheduler.close()
        return [writer.text(a.stem) for a in adapters], loaded

    capped, loaded = texts(1)
    assert capped == texts(8)[0]
    assert len(loaded) == 1  # once they ended, the limit holds again
