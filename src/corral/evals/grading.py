"""What every grader shares: its verdict (`Grade`), the model calls it may make (`Calls`: option
scoring for multiple choice, a judge's answer for the model graders), and the helpers that
refuse a criterion corral cannot grade with a 400 when the eval is created."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from corral.errors import InvalidRequest


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


class Calls(Protocol):
    """The model calls a grader may make, all through the gateway as the run's owner."""

    async def score_options(self, context: str, options: Sequence[str]) -> list[float]:
        """Each option's summed log-probability after `context`."""
        ...

    async def judge(self, model: str, messages: Sequence[dict[str, str]], max_tokens: int) -> str:
        """A judge model's (greedy) answer to `messages`."""
        ...


class Grader(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def needs_sample(self) -> bool: ...

    async def grade(self, scope: dict[str, Any], calls: Calls) -> Grade: ...


def text_field(spec: dict[str, Any], key: str, param: str) -> str:
    value = spec.get(key)
    if not isinstance(value, str):
        raise bad_criterion(param, f"{key} must be a string")
    return value


def bad_criterion(param: str, why: str) -> InvalidRequest:
    return InvalidRequest(f"{param}: {why}.", param=param, code="invalid_testing_criteria")


def bad_item(why: str) -> InvalidRequest:
    """An item the criterion cannot grade: that item ends `error`, the run goes on."""
    return InvalidRequest(why, code="bad_item")
