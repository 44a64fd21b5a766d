"""Graders judge an item's sample as OpenAI's do; multiple choice picks the likeliest option."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from corral.errors import InvalidRequest
from corral.evals.graders import build, string_check
from corral.evals.templates import render


class Scripted:
    """The model calls a grader may make: option scores and judge answers, scripted."""

    def __init__(self, logprobs: Sequence[float] = (), judge_says: str = "") -> None:
        self.logprobs = list(logprobs)
        self.judge_says = judge_says
        self.scored: list[tuple[str, list[str]]] = []
        self.judged: list[tuple[str, list[dict[str, str]]]] = []

    async def score_options(self, context: str, options: Sequence[str]) -> list[float]:
        self.scored.append((context, list(options)))
        return self.logprobs

    async def judge(self, model: str, messages: Sequence[dict[str, str]], max_tokens: int) -> str:
        self.judged.append((model, list(messages)))
        return self.judge_says


no_scoring = Scripted()


def test_templates_fill_item_and_sample_fields() -> None:
    scope = {"item": {"q": "2+2", "choices": ["3", "4"]}, "sample": {"output_text": "4"}}
    assert render("Q: {{item.q}} A: {{ sample.output_text }}", scope) == "Q: 2+2 A: 4"
    assert render("{{item.choices}}", scope) == ["3", "4"]
    assert render("{{item.choices.1}}", scope) == "4"
    with pytest.raises(InvalidRequest, match=r"item\.missing"):
        render("{{item.missing}}", scope)


@pytest.mark.parametrize(
    ("operation", "got", "want", "passed"),
    [
        ("eq", "Paris", "Paris", True),
        ("eq", "paris", "Paris", False),
        ("ne", "Rome", "Paris", True),
        ("like", "It is Paris.", "Paris", True),
        ("like", "It is paris.", "Paris", False),
        ("ilike", "It is paris.", "PARIS", True),
        ("like", "use snake_case here", "snake_case", True),
        ("like", "Paris, France", "Paris%", False),
    ],
)
def test_string_check_operations(operation: str, got: str, want: str, passed: bool) -> None:
    assert string_check(operation, got, want) is passed


async def test_a_string_check_criterion_grades_the_sample_against_the_item() -> None:
    [grader] = build(
        [
            {
                "type": "string_check",
                "name": "exact",
                "input": "{{sample.output_text}}",
                "reference": "{{item.answer}}",
                "operation": "eq",
            }
        ]
    )
    right = {"item": {"answer": "4"}, "sample": {"output_text": "4"}}
    wrong = {"item": {"answer": "4"}, "sample": {"output_text": "5"}}
    assert (await grader.grade(right, no_scoring)).passed
    assert not (await grader.grade(wrong, no_scoring)).passed


async def test_text_similarity_fuzzy_match_scores_between_zero_and_one() -> None:
    [grader] = build(
        [
            {
                "type": "text_similarity",
                "name": "close",
                "input": "{{sample.output_text}}",
                "reference": "{{item.answer}}",
                "evaluation_metric": "fuzzy_match",
                "pass_threshold": 0.8,
            }
        ]
    )
    grade = await grader.grade(
        {"item": {"answer": "the cat sat"}, "sample": {"output_text": "the cat sat."}}, no_scoring
    )
    assert grade.passed and 0.9 < grade.score < 1.0


async def test_multiple_choice_passes_when_the_likeliest_option_is_the_answer() -> None:
    [grader] = build(
        [
            {
                "type": "multiple_choice",
                "name": "mc",
                "input": "{{item.question}} Answer:",
                "choices": "{{item.choices}}",
                "answer": "{{item.label}}",
            }
        ]
    )
    scorer = Scripted([-5.0, -1.0, -3.0])
    item = {"question": "Sky?", "choices": [" red", " blue", " green"], "label": 1}
    grade = await grader.grade({"item": item}, scorer)
    assert grade.passed and grade.detail is not None and grade.detail["chosen"] == 1
    assert scorer.scored == [("Sky? Answer:", [" red", " blue", " green"])]


@pytest.mark.parametrize(
    "criterion",
    [
        {"type": "string_check", "name": "x", "input": "a", "reference": "b", "operation": "gt"},
        {
            "type": "text_similarity",
            "name": "x",
            "input": "a",
            "reference": "b",
            "evaluation_metric": "meteor",
            "pass_threshold": 0.5,
        },
        {"type": "python", "name": "x", "source": "def grade(): ..."},
    ],
)
def test_criteria_corral_cannot_grade_are_refused_up_front(criterion: dict[str, object]) -> None:
    with pytest.raises(InvalidRequest, match=r"testing_criteria\[0\]"):
        build([criterion])


def test_criteria_need_distinct_names() -> None:
    check = {"type": "string_check", "name": "x", "input": "a", "reference": "b", "operation": "eq"}
    with pytest.raises(InvalidRequest, match="distinct names"):
        build([check, check])
