"""A prompt's decode stopped half-way: the request ends, the cache stays right for the next one."""

from __future__ import annotations

import logging
import sys
import threading

import llama_cpp
import pytest

from corral.backends.base import SamplingParams, TextDelta, UsageMeter
from corral.backends.llama_cpp import engine, scoring
from corral.backends.llama_cpp.abort import AbortSwitch
from corral.backends.llama_cpp.scheduler import Scheduler
from corral.backends.llama_cpp.sequence import Sequence
from corral.cancellation import Cancellation

GREEDY = SamplingParams(max_tokens=16, temperature=0)
LONG = "The harbour master wrote a long letter about the tides and the moorings. " * 60
SHORT = "The history of the sea"


class LeavesDuringDecode(Cancellation):
    """A client that leaves while llama.cpp decodes its prompt: the flag is set at the first
    look from inside a decode (the abort callback's), so only stopping that decode half-way
    ends the request before its prompt is read."""

    __slots__ = ()

    def is_set(self) -> bool:
        if not self._is_set and _inside_a_decode():
            self.set()
        return self._is_set


def _inside_a_decode() -> bool:
    frame = sys._getframe(2)
    for _ in range(3):
        if frame.f_code.co_name == "_should_abort":
            return True
        if frame.f_back is None:
            return False
        frame = frame.f_back
    return False


def tokens(llama: llama_cpp.Llama, text: str) -> list[int]:
    return llama.tokenize(text.encode(), add_bos=True, special=False)


def generate(
    llama: llama_cpp.Llama, text: str, cancel: Cancellation, abort: AbortSwitch
) -> tuple[str, engine.GenerationOutcome]:
    pieces: list[TextDelta] = []
    outcome = engine.generate(
        llama, tokens(llama, text), GREEDY, None, cancel, pieces.append, UsageMeter(), abort=abort
    )
    return "".join(p.text for p in pieces), outcome


def empty(llama: llama_cpp.Llama) -> None:
    """Forget what the instance's cache holds, as a fresh instance."""
    llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(llama.ctx), -1, 0, -1)
    llama.n_tokens = 0


def cache_end(ctx: llama_cpp.llama_context_p, seq: int) -> int:
    """The position after a sequence's last cell in the KV cache."""
    return int(llama_cpp.llama_memory_seq_pos_max(llama_cpp.llama_get_memory(ctx), seq)) + 1


def test_a_client_leaving_during_a_prompt_batch_stops_it_half_way(
    llama: llama_cpp.Llama,
) -> None:
    abort = AbortSwitch(llama.ctx)
    empty(llama)
    expected, _ = generate(llama, SHORT, Cancellation(), abort)
    empty(llama)
    prompt = tokens(llama, LONG)

    text, outcome = generate(llama, LONG, LeavesDuringDecode(), abort)

    assert len(prompt) > 4 * engine.PROMPT_STEP
    assert (text, outcome.reason) == ("", "cancelled")
    assert (outcome.usage.prompt_tokens, outcome.usage.completion_tokens) == (len(prompt), 0)
    # Nothing of the stopped batch stays, in the cache or in llama-cpp-python's count.
    assert llama.n_tokens == cache_end(llama.ctx, 0) == 0
    assert generate(llama, SHORT, Cancellation(), abort)[0] == expected


def test_a_closed_switch_stops_the_prompt_of_a_request_still_wanted(
    llama: llama_cpp.Llama, caplog: pytest.LogCaptureFixture
) -> None:
    abort = AbortSwitch(llama.ctx)
    abort.close()  # the server is shutting down
    empty(llama)

    with caplog.at_level(logging.DEBUG, logger="llama.cpp"):
        text, outcome = generate(llama, LONG, Cancellation(), abort)

    assert (text, outcome.reason) == ("", "cancelled")
    assert llama.n_tokens == cache_end(llama.ctx, 0) == 0
    # llama.cpp calls it a failed compute; for the operator's log it is no error.
    said = [r for r in caplog.records if r.name == "llama.cpp"]
    assert any("compute status: 1" in r.getMessage() for r in said)
    assert all(r.levelno < logging.WARNING for r in said)


def test_scoring_stopped_half_way_scores_the_same_afterwards(llama: llama_cpp.Llama) -> None:
    abort = AbortSwitch(llama.ctx)
    prompt = tokens(llama, LONG)[:300]
    empty(llama)
    expected = scoring.score_prompt(llama, prompt, 2, scoring.PromptScores(), Cancellation())
    empty(llama)
    scores = scoring.PromptScores()

    stopped = scoring.score_prompt(llama, prompt, 2, scores, LeavesDuringDecode(), abort)
    again = scoring.score_prompt(llama, prompt, 2, scores, Cancellation(), abort)

    assert stopped is None
    assert expected is not None and again == expected


class Run:
    def __init__(self, llama: llama_cpp.Llama, text: str, cancel: Cancellation) -> None:
        self.pieces: list[TextDelta] = []
        self.writing = threading.Event()
        params = SamplingParams(max_tokens=40, temperature=0)
        prompt = tokens(llama, text)
        self.sequence = Sequence(prompt, params, None, cancel, self._emit, UsageMeter())

    def _emit(self, delta: TextDelta) -> None:
        self.pieces.append(delta)
        self.writing.set()

    def result(self) -> tuple[str, engine.GenerationOutcome]:
        outcome = self.sequence.future.result(timeout=300)
        return "".join(p.text for p in self.pieces), outcome


def test_a_batched_step_stopped_half_way_is_redone_for_the_others(
    llama: llama_cpp.Llama,
) -> None:
    fresh = Scheduler(llama, 2, kv_cells=4096, prompt_budget=512)
    try:
        expected = [Run(llama, SHORT, Cancellation()) for _ in range(2)]
        fresh.submit(expected[0].sequence)
        alone = expected[0].result()[0]
    finally:
        fresh.close()
    scheduler = Scheduler(llama, 2, kv_cells=4096, prompt_budget=512)
    try:
        writing, leaving = Run(llama, SHORT, Cancellation()), Run(llama, LONG, LeavesDuringDecode())
        scheduler.submit(writing.sequence)
        assert writing.writing.wait(300)
        scheduler.submit(leaving.sequence)  # its first chunk shares a step with `writing`
        left = leaving.result()
        written = writing.result()
        scheduler.submit(expected[1].sequence)  # the next request, in the freed slot
        after = expected[1].result()
    finally:
        scheduler.close()

    assert left[0] == "" and left[1].reason == "cancelled"
    assert left[1].usage.prompt_tokens == len(leaving.sequence.prompt)
    assert written[0] == alone
    assert after[0] == alone


def test_batched_scoring_stopped_half_way_scores_the_same_afterwards(
    llama: llama_cpp.Llama,
) -> None:
    prompt = tokens(llama, LONG)[:300]
    empty(llama)
    expected = scoring.score_prompt(llama, prompt, 2, scoring.PromptScores(), Cancellation())
    scheduler = Scheduler(llama, 2, kv_cells=4096, context_length=2048)
    scores = scoring.PromptScores()

    def score(cancel: Cancellation) -> list[object] | None:
        target = scheduler.scoring_target()
        entries = scoring.score_prompt(llama, prompt, 2, scores, cancel, scheduler.abort, target)
        return None if entries is None else list(entries)

    try:
        stopped = scheduler.call(lambda: score(LeavesDuringDecode())).result(timeout=300)
        again = scheduler.call(lambda: score(Cancellation())).result(timeout=300)
    finally:
        scheduler.close()

    assert stopped is None
    assert expected is not None and again == expected
