"""Continuous batching on the real model: sequences decoded together, each as if alone."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import llama_cpp
import pytest

from corral.backends.base import SamplingParams, TextDelta, Usage, UsageMeter
from corral.backends.llama_cpp import engine, loader
from corral.backends.llama_cpp.scheduler import PROMPT_BUDGET, Scheduler
from corral.backends.llama_cpp.sequence import Sequence
from corral.backends.llama_cpp.slot_cache import COPY_MIN
from corral.cancellation import Cancellation
from corral.errors import KVCacheFull
from corral.settings import LocalModelConfig

LAYOUT = 30
"""Characters a batched greedy text is compared on with the text alone when the sequence got
cells freed by another (a cancelled or finished one): with a unified cache, llama.cpp attends
over the cells in their order in the cache, and a sequence whose cells are out of position order
was measured to get logprobs up to 0.08 away from those alone, enough to change a greedy choice
some tokens on."""

PROMPTS = ["The history of the sea", "Once upon a time", "def fibonacci(n):", "My recipe is"]
SYSTEM = (
    "You are the assistant of a harbour office. You answer questions about ships, tides, "
    "moorings and fees, politely and in few words. "
) * 4


@pytest.fixture(scope="module")
def llama(model_path: Path) -> Iterator[llama_cpp.Llama]:
    # As served (q8_0 KV cache, flash attention): the settings whose batched logits were measured.
    model = loader.open_generator(LocalModelConfig(name="smol", path=model_path), 512)
    yield model
    model.close()


@pytest.fixture
def scheduler(llama: llama_cpp.Llama) -> Iterator[Scheduler]:
    # A fresh cache each test: a sequence written into the holes earlier ones left may part
    # from its text alone (see `LAYOUT`), and these tests compare with the text alone.
    running = Scheduler(llama, 4, kv_cells=2048)
    yield running
    running.close()


class Run:
    """One sequence handed to the scheduler, and what it emitted."""

    def __init__(
        self, llama: llama_cpp.Llama, prompt: str, params: SamplingParams, cancel_after: int = 0
    ) -> None:
        self.pieces: list[TextDelta] = []
        self.writing = threading.Event()
        """Set at its first piece of text: its prompt is in the cache."""
        self.cancel = Cancellation()
        self._cancel_after = cancel_after
        tokens = llama.tokenize(prompt.encode(), add_bos=True, special=False)
        self.sequence = Sequence(tokens, params, None, self.cancel, self._emit, UsageMeter())

    def _emit(self, delta: TextDelta) -> None:
        self.pieces.append(delta)
        self.writing.set()
        if len(self.pieces) == self._cancel_after:
            self.cancel.set()

    def result(self) -> tuple[str, engine.GenerationOutcome]:
        outcome = self.sequence.future.result(timeout=300)
        return "".join(p.text for p in self.pieces), outcome


def note(finished: list[str], name: str, _: object) -> None:
    finished.append(name)


def counts(usage: Usage) -> tuple[int, int]:
    """Prompt and completion tokens: the cached ones depend on what each context held."""
    return usage.prompt_tokens, usage.completion_tokens


def alone(
    llama: llama_cpp.Llama, prompt: str, params: SamplingParams
) -> tuple[str, tuple[int, int]]:
    tokens = llama.tokenize(prompt.encode(), add_bos=True, special=False)
    pieces: list[TextDelta] = []
    outcome = engine.generate(
        llama, tokens, params, None, Cancellation(), pieces.append, UsageMeter()
    )
    return "".join(p.text for p in pieces), counts(outcome.usage)


def together(scheduler: Scheduler, runs: list[Run]) -> list[tuple[str, engine.GenerationOutcome]]:
    for run in runs:
        scheduler.submit(run.sequence)
    return [run.result() for run in runs]


def test_four_greedy_sequences_batched_write_what_each_writes_alone(
    llama: llama_cpp.Llama, scheduler: Scheduler
) -> None:
    params = SamplingParams(max_tokens=24, temperature=0)
    expected = [alone(llama, prompt, params) for prompt in PROMPTS]

    results = together(scheduler, [Run(llama, prompt, params) for prompt in PROMPTS])

    assert [(text, counts(outcome.usage)) for text, outcome in results] == expected


def test_each_sequence_keeps_its_own_limits_and_stop_sequences(
    llama: llama_cpp.Llama, scheduler: Scheduler
) -> None:
    short = SamplingParams(max_tokens=5, temperature=0)
    longer = SamplingParams(max_tokens=17, temperature=0)
    stopped = SamplingParams(max_tokens=40, temperature=0, stop=(" the",))

    results = together(
        scheduler,
        [
            Run(llama, PROMPTS[0], short),
            Run(llama, PROMPTS[1], longer),
            Run(llama, PROMPTS[1], stopped),
        ],
    )

    assert [outcome.usage.completion_tokens for _, outcome in results[:2]] == [5, 17]
    assert [outcome.reason for _, outcome in results] == ["length", "length", "stop"]
    assert results[2][0] == alone(llama, PROMPTS[1], stopped)[0] == ","
    assert counts(results[2][1].usage) == alone(llama, PROMPTS[1], stopped)[1]


def test_a_cancelled_sequence_stops_within_one_token_and_frees_its_slot(
    llama: llama_cpp.Llama,
) -> None:
    two = Scheduler(llama, 2)
    try:
        finished: list[str] = []
        cancelled = Run(llama, PROMPTS[0], SamplingParams(max_tokens=200, temperature=0), 3)
        long = Run(llama, PROMPTS[1], SamplingParams(max_tokens=60, temperature=0))
        waiting = Run(llama, PROMPTS[2], SamplingParams(max_tokens=4, temperature=0))
        for name, run in (("cancelled", cancelled), ("long", long), ("waiting", waiting)):
            run.sequence.future.add_done_callback(functools.partial(note, finished, name))

        results = together(two, [cancelled, long, waiting])
    finally:
        two.close()

    assert results[0][1].reason == "cancelled"
    assert results[0][1].usage.completion_tokens == 3
    # The third sequence got the cancelled one's slot while the long one was still writing.
    assert finished == ["cancelled", "waiting", "long"]
    # It kept writing while the waiting one took the cancelled one's cells (see `LAYOUT`).
    assert results[1][0][:LAYOUT] == alone(llama, PROMPTS[1], long.sequence.params)[0][:LAYOUT]
    assert results[1][1].usage.completion_tokens == 60


def test_the_same_seed_samples_the_same_text_in_one_batch(
    llama: llama_cpp.Llama, scheduler: Scheduler
) -> None:
    seeded = SamplingParams(max_tokens=16, temperature=1.0, seed=7)

    first, second = together(scheduler, [Run(llama, PROMPTS[3], seeded) for _ in range(2)])

    assert first[0] == second[0]
    assert first[0] == alone(llama, PROMPTS[3], seeded)[0]


def test_a_prompt_longer_than_one_step_is_read_in_chunks(
    llama: llama_cpp.Llama, scheduler: Scheduler
) -> None:
    prompt = "The sea is wide. " * (PROMPT_BUDGET // 4)  # about two steps' worth of tokens
    params = SamplingParams(max_tokens=6, temperature=0)

    (long_text, long_outcome), (short_text, _) = together(
        scheduler, [Run(llama, prompt, params), Run(llama, PROMPTS[0], params)]
    )

    assert long_outcome.usage.prompt_tokens > PROMPT_BUDGET
    assert (long_text, counts(long_outcome.usage)) == alone(llama, prompt, params)
    assert short_text == alone(llama, PROMPTS[0], params)[0]


def test_a_follow_up_prompt_reuses_its_slot_and_writes_the_same(
    llama: llama_cpp.Llama, scheduler: Scheduler
) -> None:
    params = SamplingParams(max_tokens=8, temperature=0)
    together(scheduler, [Run(llama, PROMPTS[0], params)])
    follow_up = PROMPTS[0] + " and of its ships"

    [(text, outcome)] = together(scheduler, [Run(llama, follow_up, params)])

    assert (text, counts(outcome.usage)) == alone(llama, follow_up, params)
    assert outcome.usage.cached_tokens == len(llama.tokenize(PROMPTS[0].encode()))


def test_logprobs_batched_match_those_of_a_sequence_alone(
    llama: llama_cpp.Llama, scheduler: Scheduler
) -> None:
    params = SamplingParams(max_tokens=8, temperature=0, logprobs=True, top_logprobs=2)
    tokens = llama.tokenize(PROMPTS[1].encode(), add_bos=True, special=False)
    pieces: list[TextDelta] = []
    engine.generate(llama, tokens, params, None, Cancellation(), pieces.append, UsageMeter())
    expected = [lp for piece in pieces for lp in piece.logprobs]

    runs = [Run(llama, prompt, params) for prompt in PROMPTS]
    together(scheduler, runs)
    batched = [lp for piece in runs[1].pieces for lp in piece.logprobs]

    assert [lp.token for lp in batched] == [lp.token for lp in expected]
    # Batched matrix products add in another order: logprobs agree to float32 rounding.
    gaps = [
        abs((a.logprob or 0.0) - (b.logprob or 0.0)) for a, b in zip(batched, expected, strict=True)
    ]
    assert max(gaps) < 1e-3


def tokens_of(llama: llama_cpp.Llama, text: str) -> list[int]:
    return llama.tokenize(text.encode(), add_bos=True, special=False)


def test_a_prompt_sharing_a_busy_slots_prefix_copies_its_cells(llama: llama_cpp.Llama) -> None:
    busy_prompt, asked = SYSTEM + "Once upon a time, a ship", SYSTEM + "A mooring costs"
    busy_params, params = (SamplingParams(max_tokens=n, temperature=0) for n in (60, 12))
    two = Scheduler(llama, 2)
    try:
        busy = Run(llama, busy_prompt, busy_params)
        two.submit(busy.sequence)
        assert busy.writing.wait(timeout=300)
        # The other slot is empty: the shared system prompt can only come from the busy one.
        [(text, outcome)] = together(two, [Run(llama, asked, params)])
        busy_text, busy_outcome = busy.result()
    finally:
        two.close()

    assert busy_outcome.usage.completion_tokens == 60  # it was still writing meanwhile
    assert two.stats.prefix_copies == 1

    shared = 0
    for a, b in zip(tokens_of(llama, busy_prompt), tokens_of(llama, asked), strict=False):
        if a != b:
            break
        shared += 1
    assert shared >= COPY_MIN
    assert outcome.usage.cached_tokens == shared
    assert (text, counts(outcome.usage)) == alone(llama, asked, params)
    assert busy_text == alone(llama, busy_prompt, busy_params)[0]


def test_a_short_shared_prefix_is_read_again_rather_than_copied(llama: llama_cpp.Llama) -> None:
    two = Scheduler(llama, 2)
    params = SamplingParams(max_tokens=4, temperature=0)
    asked = "Once upon a time, a dog"
    try:
        busy = Run(llama, "Once upon a time, a ship", replace(params, max_tokens=30))
        two.submit(busy.sequence)
        assert busy.writing.wait(timeout=300)
        [(text, outcome)] = together(two, [Run(llama, asked, params)])
        _, busy_outcome = busy.result()
    finally:
        two.close()

    assert busy_outcome.usage.completion_tokens == 30  # still writing when the other came
    assert outcome.usage.cached_tokens == 0 and two.stats.prefix_copies == 0
    assert text == alone(llama, asked, params)[0]


def test_every_question_after_the_first_reuses_the_system_prompt(llama: llama_cpp.Llama) -> None:
    three = Scheduler(llama, 3)
    params = SamplingParams(max_tokens=3, temperature=0)
    questions = ["Where is pier 4?", "Who pays the fees?", "Can I anchor here?", "Is it deep?"]
    try:
        cached = [
            together(three, [Run(llama, SYSTEM + question, params)])[0][1].usage.cached_tokens
            for question in questions
        ]
    finally:
        three.close()

    system = len(tokens_of(llama, SYSTEM)) - 1  # the question may merge with its last token
    assert cached[0] == 0
    assert all(count >= system for count in cached[1:])


LONG_SYSTEM = SYSTEM * 2  # 225 tokens: three of them do not fit in 512 cells


def test_a_prefix_shared_by_busy_sequences_is_held_once(llama: llama_cpp.Llama) -> None:
    # 512 cells: the busy sequence and three copies of its system prompt (over 900 tokens
    # together) fit only if the copies share the busy sequence's cells.
    four = Scheduler(llama, 4, kv_cells=512)
    params = SamplingParams(max_tokens=12, temperature=0)
    questions = ["Where is pier 4?", "Who pays the fees?", "Can I anchor here?"]
    try:
        busy = Run(llama, LONG_SYSTEM + "Once upon a time, a ship", replace(params, max_tokens=40))
        four.submit(busy.sequence)
        assert busy.writing.wait(timeout=300)
        results = together(four, [Run(llama, LONG_SYSTEM + q, params) for q in questions])
        _, busy_outcome = busy.result()
    finally:
        four.close()

    assert busy_outcome.usage.completion_tokens == 40  # it was still writing meanwhile
    assert four.stats.prefix_copies == 3 and four.stats.cache_full == 0
    for (text, outcome), question in zip(results, questions, strict=True):
        assert outcome.usage.cached_tokens >= len(tokens_of(llama, LONG_SYSTEM)) - 1
        assert (text, counts(outcome.usage)) == alone(llama, LONG_SYSTEM + question, params)


def test_when_the_cache_is_full_the_youngest_sequence_fails_and_the_others_finish(
    llama: llama_cpp.Llama,
) -> None:
    three = Scheduler(llama, 3, kv_cells=512)
    params = SamplingParams(max_tokens=8, temperature=0)
    prompts = [LONG_SYSTEM + q for q in ("Where is pier 4?", "Who pays?", "Is it deep?")]
    try:
        runs = [Run(llama, prompt, params) for prompt in prompts]
        for run in runs:  # admitted together: none has cells yet for the others to share
            three.submit(run.sequence)
        finished = [run.result() for run in runs[:2]]
        with pytest.raises(KVCacheFull, match="512 cells shared by 3 sequences"):
            runs[2].result()
    finally:
        three.close()

    assert three.stats.cache_full == 1 and three.stats.active_sequences == 0
    assert [(text, counts(o.usage)) for text, o in finished] == [
        alone(llama, prompt, params) for prompt in prompts[:2]
    ]


def test_a_finished_sequences_cells_make_room_for_new_ones(llama: llama_cpp.Llama) -> None:
    three = Scheduler(llama, 3, kv_cells=512)
    params = SamplingParams(max_tokens=8, temperature=0)
    first = LONG_SYSTEM + "Where is pier 4?"
    others = [
        topic + ": " + "the tide comes in and goes out twice a day. " * 18
        for topic in ("Ships", "Tides")
    ]
    try:
        together(three, [Run(llama, first, params)])  # its 240 cells stay, for a next turn
        results = together(three, [Run(llama, prompt, params) for prompt in others])
        [(_, again)] = together(three, [Run(llama, first, params)])
    finally:
        three.close()

    assert three.stats.cache_full == 0
    expected = [alone(llama, prompt, params) for prompt in others]
    # The first one got cells on both sides of the dropped ones (see `LAYOUT`).
    assert [(text[:4], o.usage.prompt_tokens) for text, o in results] == [
        (text[:4], used[0]) for text, used in expected
    ]
    assert again.usage.cached_tokens == 0  # its cells were dropped to make that room
