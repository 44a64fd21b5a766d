"""OpenAI's model graders: `label_model` (a judge model picks one of `labels`; the item passes
when it is one of `passing_labels`) and `score_model` (the judge gives a number in `range`;
the item passes at `pass_threshold` or above).

The judge is a model of the catalogue, called greedily through the gateway as the run's
owner (`Calls.judge`), so its calls are metered and billed like the run's own; its id is part
of the criterion, which the manifest records. A judge's answer outside the labels or the range
is the item's error, not a pass or a fail.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from corral.evals.grading import Calls, Grade, bad_criterion, bad_item, text_field
from corral.evals.templates import render_text

_ROLES = ("system", "developer", "user", "assistant")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_SHOWN = 200
"""Characters of a judge's unusable answer kept in the item's error."""


@dataclass(frozen=True, slots=True)
class LabelModel:
    name: str
    model: str
    input: tuple[tuple[str, str], ...]
    labels: tuple[str, ...]
    passing_labels: tuple[str, ...]
    max_tokens: int
    needs_sample: bool

    async def grade(self, scope: dict[str, Any], calls: Calls) -> Grade:
        answer = await calls.judge(self.model, _messages(self.input, scope), self.max_tokens)
        label = _label(answer, self.labels)
        if label is None:
            raise bad_item(
                f"label_model: the judge answered {answer[:_SHOWN]!r}, not one of the labels."
            )
        passed = label in self.passing_labels
        detail = {"label": label, "judge": self.model}
        return Grade(self.name, "label_model", passed, 1.0 if passed else 0.0, detail)


@dataclass(frozen=True, slots=True)
class ScoreModel:
    name: str
    model: str
    input: tuple[tuple[str, str], ...]
    range: tuple[float, float]
    pass_threshold: float | None
    max_tokens: int
    needs_sample: bool

    async def grade(self, scope: dict[str, Any], calls: Calls) -> Grade:
        answer = await calls.judge(self.model, _messages(self.input, scope), self.max_tokens)
        score = _score(answer)
        low, high = self.range
        if score is None or not low <= score <= high:
            raise bad_item(
                f"score_model: the judge answered {answer[:_SHOWN]!r}, not a number in "
                f"[{low:g}, {high:g}]."
            )
        threshold = self.pass_threshold if self.pass_threshold is not None else (low + high) / 2
        detail = {"judge": self.model}
        return Grade(self.name, "score_model", score >= threshold, score, detail)


def _messages(template: tuple[tuple[str, str], ...], scope: dict[str, Any]) -> list[dict[str, str]]:
    return [{"role": role, "content": render_text(content, scope)} for role, content in template]


def _label(answer: str, labels: tuple[str, ...]) -> str | None:
    """The label the judge gave: its whole answer (ignoring case, quotes and a final full
    stop), a JSON `{"label": ...}`, or the one label its answer names as a word."""
    text = answer.strip()
    try:
        value = json.loads(text)
        if isinstance(value, dict) and isinstance(value.get("label"), str):
            text = value["label"]
    except ValueError:
        pass
    bare = text.strip().strip("\"'`*").rstrip(".").strip().lower()
    for label in labels:
        if bare == label.lower():
            return label
    named = [
        label
        for label in labels
        if re.search(rf"(?<!\w){re.escape(label.lower())}(?!\w)", text.lower())
    ]
    return named[0] if len(named) == 1 else None


def _score(answer: str) -> float | None:
    """The judge's number: a JSON `{"result": x}` or `{"score": x}`, else the first number."""
    try:
        value = json.loads(answer.strip())
    except ValueError:
        value = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, dict):
        for key in ("result", "score"):
            if isinstance(value.get(key), int | float) and not isinstance(value[key], bool):
                return float(value[key])
    match = _NUMBER.search(answer)
    return float(match.group()) if match else None


def label_model(spec: dict[str, Any], name: str, param: str) -> LabelModel:
    labels = _strings(spec.get("labels"), "labels", param)
    passing = _strings(spec.get("passing_labels"), "passing_labels", param)
    if not set(passing) <= set(labels):
        raise bad_criterion(param, "passing_labels must be among the labels")
    template = _template(spec, param)
    return LabelModel(
        name,
        text_field(spec, "model", param),
        template,
        labels,
        passing,
        _max_tokens(spec, param, 64),
        _uses_sample(template),
    )


def score_model(spec: dict[str, Any], name: str, param: str) -> ScoreModel:
    bounds = spec.get("range", [0, 1])
    if not (
        isinstance(bounds, list)
        and len(bounds) == 2
        and all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
        and bounds[0] < bounds[1]
    ):
        raise bad_criterion(param, "range must be [low, high] with low < high")
    threshold = spec.get("pass_threshold")
    if threshold is not None and not isinstance(threshold, int | float):
        raise bad_criterion(param, "pass_threshold must be a number")
    template = _template(spec, param)
    return ScoreModel(
        name,
        text_field(spec, "model", param),
        template,
        (float(bounds[0]), float(bounds[1])),
        float(threshold) if threshold is not None else None,
        _max_tokens(spec, param, 128),
        _uses_sample(template),
    )


def _template(spec: dict[str, Any], param: str) -> tuple[tuple[str, str], ...]:
    messages = spec.get("input")
    if not isinstance(messages, list) or not messages:
        raise bad_criterion(param, "input must be a non-empty list of messages")
    out = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, dict):  # OpenAI's {"type": "input_text", "text": ...}
            content = content.get("text")
        role = message.get("role", "user") if isinstance(message, dict) else None
        if role not in _ROLES or not isinstance(content, str):
            raise bad_criterion(param, "each input message needs a role and a text content")
        out.append(("system" if role == "developer" else role, content))
    return tuple(out)


def _strings(value: Any, key: str, param: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise bad_criterion(param, f"{key} must be a non-empty list of strings")
    return tuple(value)


def _max_tokens(spec: dict[str, Any], param: str, default: int) -> int:
    value = (spec.get("sampling_params") or {}).get("max_completions_tokens", default)
    if not isinstance(value, int) or not 1 <= value <= 4096:
        raise bad_criterion(param, "sampling_params.max_completions_tokens must be 1 to 4096")
    return value


def _uses_sample(template: tuple[tuple[str, str], ...]) -> bool:
    return any("sample." in content for _, content in template)
