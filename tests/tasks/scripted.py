"""A backend that answers with scripted JSON (or anything), one answer per call, in order; an
answer may be a function of the request."""

from __future__ import annotations

import json
from typing import Any

from corral.backends.base import GenerationRequest, GenerationResult, Usage
from tests.fakes import EchoBackend


class ScriptedBackend(EchoBackend):
    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.requests: list[GenerationRequest] = []

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if callable(answer):
            answer = answer(request)
        text = answer if isinstance(answer, str) else json.dumps(answer)
        request.meter.prompt_tokens, request.meter.completion_tokens = 10, 5
        return GenerationResult(text, "stop", Usage(10, 5))
