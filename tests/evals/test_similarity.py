"""`text_similarity` scores BLEU (sacrebleu) and ROUGE (rouge-score) as OpenAI's grader names
them; the figures below are worked by hand from the metrics' definitions, not read back from
the packages. Hostile texts end their item `error`, never hang the worker."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from corral.errors import InvalidRequest
from corral.evals.graders import build
from corral.evals.similarity import MAX_CHARS, score
from tests.evals.test_graders import no_scoring

# rouge-score's README pair. Words after lower-casing: the reference has 9, the answer 8.
REFERENCE = "The quick brown fox jumps over the lazy dog"
ANSWER = "The quick brown dog jumps on the log."


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        # 6 shared words (the x2, quick, brown, dog, jumps): F = 2*6 / (8+9).
        ("rouge_1", 12 / 17),
        # 2 shared bigrams (the quick, quick brown) of 7 and 8: F = 2*2 / (7+8).
        ("rouge_2", 4 / 15),
        # Longest common subsequence "the quick brown jumps the", 5 words: F = 2*5 / (8+9).
        ("rouge_l", 10 / 17),
        ("rouge_5", 0.0),
    ],
)
def test_rouge_is_the_f_measure_of_shared_n_grams(metric: str, expected: float) -> None:
    assert score(metric, ANSWER, REFERENCE) == pytest.approx(expected)


def test_bleu_is_the_geometric_mean_of_clipped_n_gram_precisions() -> None:
    # "the" is clipped to the reference's one: 5/6, 3/5, 2/4, 1/3; equal lengths, no penalty.
    got = score("bleu", "the cat sat on the mat", "the cat sat on a mat")
    assert got == pytest.approx((5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25)
    assert score("bleu", REFERENCE, REFERENCE) == 1.0


def test_sacrebleu_reproduces_its_own_documented_corpus_score() -> None:
    import sacrebleu

    refs = [
        ["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
        ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."],
    ]
    hyps = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
    assert round(sacrebleu.corpus_bleu(hyps, refs).score, 2) == 48.53


def test_words_of_any_script_count_and_chinese_characters_are_words() -> None:
    # rouge-score's own words are [a-z0-9]: "über" would be "ber", Chinese nothing at all.
    assert score("rouge_1", "Über Straße", "über straße") == 1.0
    assert score("rouge_1", "Привет мир", "привет мир") == 1.0
    # 4 of 7 characters against all 4 of the reference: F = 2*4 / (7+4).
    assert score("rouge_1", "我爱北京天安门", "我爱北京") == pytest.approx(8 / 11)
    assert score("rouge_2", "我爱北京天安门", "我爱北京") == pytest.approx(2 * 3 / (6 + 3))
    assert 0.0 < score("bleu", "我爱北京天安门", "我爱北京") < 1.0


@pytest.mark.parametrize("metric", ["bleu", "rouge_1", "rouge_l"])
def test_empty_texts_share_nothing(metric: str) -> None:
    assert score(metric, "", "") == 0.0
    assert score(metric, "", "Paris") == 0.0
    assert score(metric, "Paris", "") == 0.0


def test_texts_too_long_to_compare_end_the_item_instead_of_holding_the_worker() -> None:
    words = " ".join(f"w{i % 500}" for i in range(10_000))
    with pytest.raises(InvalidRequest, match="rouge_l would compare 100,000,000 pairs") as err:
        score("rouge_l", words, words)
    assert err.value.code == "bad_item"
    with pytest.raises(InvalidRequest, match="fuzzy_match would compare"):
        score("fuzzy_match", words, words)
    with pytest.raises(InvalidRequest, match="over 1,000,000 characters"):
        score("bleu", "x" * (MAX_CHARS + 1), "x")
    # n-gram counts stay linear: 10,000 words are scored at once.
    assert score("rouge_2", words, words) == 1.0
    assert score("bleu", words, words) == 1.0


def criterion(metric: str, threshold: float) -> dict[str, Any]:
    return {
        "type": "text_similarity",
        "name": metric,
        "input": "{{sample.output_text}}",
        "reference": "{{item.answer}}",
        "evaluation_metric": metric,
        "pass_threshold": threshold,
    }


async def test_a_grader_passes_at_or_above_its_threshold() -> None:
    rouge, bleu = build([criterion("rouge_l", 0.5), criterion("bleu", 0.6)])
    scope = {"item": {"answer": REFERENCE}, "sample": {"output_text": ANSWER}}
    grade = await rouge.grade(scope, no_scoring)
    assert grade.passed and grade.score == pytest.approx(10 / 17)
    grade = await bleu.grade(scope, no_scoring)
    assert not grade.passed and grade.type == "text_similarity"


def test_an_unknown_metric_is_refused_naming_those_there_are() -> None:
    with pytest.raises(InvalidRequest, match=r"'cosine' is not available .*rouge_l"):
        build([criterion("cosine", 0.5)])


def test_the_packages_are_not_loaded_until_a_criterion_asks() -> None:
    code = (
        "import sys; from corral.evals.graders import build; "
        "build([{'type': 'text_similarity', 'name': 'x', 'input': 'a', 'reference': 'b', "
        "'evaluation_metric': 'rouge_l', 'pass_threshold': 1}]); "
        "print(sorted(m for m in ('sacrebleu', 'rouge_score', 'nltk') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
