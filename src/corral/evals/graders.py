"""Graders: how an item's sample is judged, one per testing criterion.

`string_check` and `text_similarity` are OpenAI's, as are the model graders (`label_model`,
`score_model`, in `judges`); `multiple_choice` is corral's: it scores each option's
log-likelihood after the item's context (on models that score prompts, see docs/scoring.md)
and passes when the likeliest option is the answer. `json_schema` and `number_check` (corral's,
in `checks`) grade JSON answers and exact numbers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from corral.errors import InvalidRequest
from corral.evals import checks, judges, similarity
from corral.evals.grading import Calls, Grade, Grader, bad_criterion, bad_item, text_field
from corral.evals.templates import render, render_text

__all__ = ["Calls", "Grade", "Grader", "build", "string_check"]

STRING_OPERATIONS = ("eq", "ne", "like", "ilike")


@dataclass(frozen=True, slots=True)
class StringCheck:
    name: str
    input: str
    reference: str
    operation: str
    needs_sample = True

    async def grade(self, scope: dict[str, Any], calls: Calls) -> Grade:
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

    async def grade(self, scope: dict[str, Any], calls: Calls) -> Grade:
        got, want = render_text(self.input, scope), render_text(self.reference, scope)
        score = await asyncio.to_thread(similarity.score, self.metric, got, want)
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
    choice_prefix: str = ""
    """Put before each option when it is scored (a space: `Answer:` + ` blue`)."""
    needs_sample = False

    async def grade(self, scope: dict[str, Any], calls: Calls) -> Grade:
        context = render_text(self.input, scope)
        options = render(self.choices, scope)
        if not isinstance(options, list) or not options:
            raise bad_item("multiple_choice: the choices are not a list.")
        texts = [str(o) for o in options]
        right = _answer_index(render(self.answer, scope), texts)
        options = [self.choice_prefix + o for o in texts]
        logprobs = await calls.score_options(context, options)
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
    raise bad_item("multiple_choice: the answer is not one of the choices.")


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
            raise bad_criterion(param, f"operation must be one of {', '.join(STRING_OPERATIONS)}")
        return StringCheck(
            name, text_field(spec, "input", param), text_field(spec, "reference", param), op
        )
    if kind == "text_similarity":
        metric = spec.get("evaluation_metric")
        if metric not in similarity.METRICS:
            raise bad_criterion(
                param,
                f"evaluation_metric {metric!r} is not available "
                f"({', '.join(similarity.METRICS)} are)",
            )
        threshold = spec.get("pass_threshold")
        if not isinstance(threshold, int | float):
            raise bad_criterion(param, "pass_threshold must be a number")
        inp, ref = text_field(spec, "input", param), text_field(spec, "reference", param)
        return TextSimilarity(name, inp, ref, metric, float(threshold))
    if kind == "multiple_choice":
        inp, choices = text_field(spec, "input", param), text_field(spec, "choices", param)
        prefix = spec.get("choice_prefix", "")
        if not isinstance(prefix, str):
            raise bad_criterion(param, "choice_prefix must be a string")
        return MultipleChoice(name, inp, choices, text_field(spec, "answer", param), prefix)
    if kind in _MORE:
        return _MORE[kind](spec, name, param)
    raise bad_criterion(
        param, f"grader type {kind!r} is not available ({', '.join(GRADER_TYPES)} are)"
    )


_MORE: dict[str, Callable[[dict[str, Any], str, str], Grader]] = {
    "json_schema": checks.json_schema,
    "number_check": checks.number_check,
    "label_model": judges.label_model,
    "score_model": judges.score_model,
}
GRADER_TYPES = ("string_check", "text_similarity", "multiple_choice", *_MORE)
