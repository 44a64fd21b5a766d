"""The `text_similarity` grader's metrics, OpenAI's names: `fuzzy_match` (Python's difflib
ratio), `bleu` (sacrebleu's sentence BLEU) and `rouge_1` ... `rouge_5`, `rouge_l` (Google's
`rouge-score`, the package Hugging Face's `evaluate` wraps: the F-measure). Every score is in
[0, 1]; BLEU's 0-100 is divided by 100.

sacrebleu and rouge-score (with NLTK beneath it) are imported at the first criterion that
asks for them: a server whose evals never use BLEU or ROUGE does not hold them in memory.
ROUGE's words are runs of letters and digits of any script, lower-cased, each Chinese or
Japanese character a word of its own (rouge-score's own tokenizer drops every letter outside
a-z, so German `über` would be `ber` and a Chinese answer no words at all); on ASCII text
they are rouge-score's words. ROUGE-L compares every word with every word (rouge-score's LCS
table in plain Python) and fuzzy_match every character with every character, so texts whose
product of lengths is over `MAX_LCS_CELLS` (`MAX_FUZZY_CELLS`) end their item `error` instead
of holding the worker for minutes; the grader runs a metric in a thread, off the event loop.
"""

from __future__ import annotations

import difflib
import functools
import re
from typing import Any

from corral.evals.grading import bad_item

METRICS = (
    "fuzzy_match",
    "bleu",
    "rouge_1",
    "rouge_2",
    "rouge_3",
    "rouge_4",
    "rouge_5",
    "rouge_l",
)
MAX_LCS_CELLS = 4_000_000
"""ROUGE-L's table: 2,000 by 2,000 words, about 2 s in rouge-score's Python on this machine."""
MAX_FUZZY_CELLS = 100_000_000
"""difflib compares every character with every character too: 10,000 by 10,000, about 2 s."""
MAX_CHARS = 1_000_000
"""Longer texts (of either side) end the item `error`: no answer graded by similarity is that
long, and the metrics' work grows with it."""

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAS_CJK = re.compile(f"[{_CJK}]")
_WORDS = re.compile(rf"[{_CJK}]|(?:(?![{_CJK}])[^\W_])+")


def score(metric: str, got: str, want: str) -> float:
    """`got` (the graded text) against `want` (the reference), in [0, 1]."""
    if len(got) > MAX_CHARS or len(want) > MAX_CHARS:
        raise bad_item(f"text_similarity: a text is over {MAX_CHARS:,} characters.")
    if metric == "fuzzy_match":
        _bounded("fuzzy_match", "characters", len(got) * len(want), MAX_FUZZY_CELLS)
        return difflib.SequenceMatcher(None, got, want, autojunk=False).ratio()
    if metric == "bleu":
        # sacrebleu's default words (13a) keep a run of Chinese characters as one word: its
        # Chinese tokenizer (each character a word) is used when either text holds one.
        cjk = _HAS_CJK.search(got) or _HAS_CJK.search(want)
        bleu = _sacrebleu().sentence_bleu(got, [want], tokenize="zh" if cjk else "13a")
        return min(1.0, float(bleu.score) / 100.0)  # 100.00000000000004 happens
    return _rouge(metric, got, want)


def _rouge(metric: str, got: str, want: str) -> float:
    kind = "rougeL" if metric == "rouge_l" else f"rouge{metric[-1]}"
    if kind == "rougeL":
        cells = len(_WORDS.findall(got.lower())) * len(_WORDS.findall(want.lower()))
        _bounded("rouge_l", "words", cells, MAX_LCS_CELLS)
    # rouge-score's argument order is (target, prediction): the reference first.
    result = _scorer(kind).score(want, got)[kind]
    return float(result.fmeasure)


def _bounded(metric: str, what: str, cells: int, limit: int) -> None:
    if cells > limit:
        raise bad_item(
            f"text_similarity: {metric} would compare {cells:,} pairs of {what} "
            f"(at most {limit:,})."
        )


class _Words:
    """The tokenizer rouge-score is given (its `tokenize(text)` protocol)."""

    def tokenize(self, text: str) -> list[str]:
        return _WORDS.findall(text.lower())


@functools.cache
def _scorer(kind: str) -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer([kind], use_stemmer=False, tokenizer=_Words())


@functools.cache
def _sacrebleu() -> Any:
    import sacrebleu

    return sacrebleu
