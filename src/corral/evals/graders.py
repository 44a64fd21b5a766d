"""Graders: how an item's sample is judged, one per testing criterion.

`string_check` and `text_similarity` are OpenAI's; `multiple_choice` is corral's: it scores
each option's log-likelihood after the item's context (on models that score prompts, see
docs/scoring.md) and passes when the likeliest option is the answer.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from corral.errors import InvalidRequest
from corral.evals.templates import render, render_text

OptionScorer = Callable[[str, Sequence[str]], Awaitable[list[float]]]
"""(context, options) -> each option's summed log-probability after the context."""

STRING_OPERATIONS = ("eq", "ne", "like", "ilike")
SIMILARITY_METRICS = ("fuzzy_match",)


@dataclass(frozen=True, slots=True)
class Grade:
    name: str
    type: str
    passed: bool
    score: float
    detail: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "passed": self.passed,
            "score": self.score,
        }
        if self.detail:
            out["detail"] = self.detail
        return out


class Grader(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def needs_sample(self) -> bool: ...

    async def grade(self, scope: dict[str, Any], score_options: OptionScorer) -> Grade: ...


@dataclass(frozen=True, slots=True)
class StringCheck:
    name: str
    input: str
    reference: str
    operation: str
    needs_sample = True

    async def grade(self, scope: dict[str, Any], score_options: OptionScorer) -> Grade:
        got, want = render_text(self.input, scope), render_text(self.reference, scope)
        passed = string_check(self.operation, got, want)
        return Grade(self.name, "string_check", passed, 1.0 if passed else 0.0)


def string_check(operation: str, got: str, want: str) -> bool:
    """OpenAI's operations: `like` is "contains", case-sensitive; `ilike` ignores case. No
    wildcards: a reference's `%` or `_` is matched as itself."""
    if operation == "eq":
        return got == want
    if operation == "ne":
        return got != want
    if operation == "ilike":
        return want.lower() in got.lower()
    return want in got


@dataclass(frozen=True, slots=True)
class TextSimilarity:
    name: str
    input: str
    reference: str
    metric: str
    pass_threshold: float
    needs_sample = True

    async def grade(self, scope: dict[str, Any], score_options: OptionScorer) -> Grade:
        got, want = render_text(self.input, scope), render_text(self.reference, scope)
        score = difflib.SequenceMatcher(None, got, want, autojunk=False).ratio()
        return Grade(self.name, "text_similarity", score >= self.pass_threshold, score)


@dataclass(frozen=True, slots=True)
class MultipleChoice:
    name: str
    input: str
    """The context every option follows (a template: `{{item.question}}\\nAnswer:`)."""
    choices: str
    """A template giving the options, a list (`{{item.choices}}`)."""
    answer: str
    """A template giving the right option: its index, or its text."""
    needs_sample = False

    async def grade(self, scope: dict[str, Any], score_options: OptionScorer) -> Grade:
        context = render_text(self.input, scope)
        options = render(self.choices, scope)
        if not isinstance(options, list) or not options:
            raise InvalidRequest("multiple_choice: the choices are not a list.", code="bad_item")
        options = [str(o) for o in options]
        right = _answer_index(render(self.answer, scope), options)
        logprobs = await score_options(context, options)
        best = max(range(len(options)), key=lambda i: logprobs[i])
        # acc_norm as lm-eval's: per character of the option, so long options are not
        # penalised for their length.
        norm = [lp / max(1, len(o)) for lp, o in zip(logprobs, options, strict=True)]
        best_norm = max(range(len(options)), key=lambda i: norm[i])
        detail = {"logprobs": logprobs, "chosen": best, "chosen_norm": best_norm, "answer": right}
        passed = best == right
        return Grade(self.name, "multiple_choice", passed, 1.0 if passed else 0.0, detail)


def _answer_index(answer: Any, options: list[str]) -> int:
    if isinstance(answer, int) and 0 <= answer < len(options):
        return answer
    if isinstance(answer, str) and answer.isdigit() and int(answer) < len(options):
        return int(answer)
    if isinstance(answer, str) and answer in options:
        return options.index(answer)
    raise InvalidRequest("multiple_choice: the answer is not one of the choices.", code="bad_item")


def build(criteria: Sequence[dict[str, Any]]) -> list[Grader]:
    """The graders of an eval's `testing_criteria`; a criterion corral cannot grade is a 400
    when the eval is created, not a failure halfway through a run."""
    graders: list[Grader] = []
    for i, spec in enumerate(criteria):
        graders.append(_one(spec, f"testing_criteria[{i}]"))
    names = [g.name for g in graders]
    if len(set(names)) != len(names):
        raise InvalidRequest("Testing criteria need distinct names.", param="testing_criteria")
    return graders


def _one(spec: dict[str, Any], param: str) -> Grader:
    kind = spec.get("type")
    name = str(spec.get("name") or kind)
    if kind == "string_check":
        op = spec.get("operation")
        if op not in STRING_OPERATIONS:
            raise _bad(param, f"operation must be one of {', '.join(STRING_OPERATIONS)}")
        return StringCheck(name, _str(spec, "input", param), _str(spec, "reference", param), op)
    if kind == "text_similarity":
        metric = spec.get("evaluation_metric")
        if metric not in SIMILARITY_METRICS:
            raise _bad(param, f"evaluation_metric {metric!r} is not available yet (fuzzy_match is)")
        threshold = spec.get("pass_threshold")
        if not isinstance(threshold, int | float):
            raise _bad(param, "pass_threshold must be a number")
        inp, ref = _str(spec, "input", param), _str(spec, "reference", param)
        return TextSimilarity(name, inp, ref, metric, float(threshold))
    if kind == "multiple_choice":
        inp, choices = _str(spec, "input", param), _str(spec, "choices", param)
        return MultipleChoice(name, inp, choices, _str(spec, "answer", param))
    raise _bad(
        param,
        f"grader type {kind!r} is not available (string_check, text_similarity, "
        "multiple_choice are)",
    )


def _str(spec: dict[str, Any], key: str, param: str) -> str:
    value = spec.get(key)
    if not isinstance(value, str):
        raise _bad(param, f"{key} must be a string")
    return value


def _bad(param: str, why: str) -> InvalidRequest:
    return InvalidRequest(f"{param}: {why}.", param=param, code="invalid_testing_criteria")
