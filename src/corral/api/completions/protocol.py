"""Wire schemas of the legacy `POST /v1/completions` (OpenAI's format)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator
from typing_extensions import TypedDict

from corral.api.common import FinishReasonOut, SamplingFields, UsageOut
from corral.errors import InvalidRequest

MAX_PROMPTS = 256
"""Prompts in one request (docs/limits.md); each is a separate generation."""

Prompt = str | tuple[int, ...]
"""One prompt: text, or token ids of the model's own vocabulary."""


class CompletionRequest(SamplingFields):
    prompt: str | list[str] | list[int] | list[list[int]]
    max_tokens: int | None = Field(default=16, ge=0)
    echo: bool | None = False
    logprobs: int | None = Field(default=None, ge=0, le=5)
    suffix: str | None = None
    best_of: int | None = Field(default=None, ge=1, le=1)

    @model_validator(mode="after")
    def _check(self) -> CompletionRequest:
        count = len(self.prompts())
        if not 1 <= count <= MAX_PROMPTS:
            raise InvalidRequest(
                f"'prompt' holds {count} prompts; send from 1 to {MAX_PROMPTS}.", param="prompt"
            )
        if count > 1 and self.stream:
            raise InvalidRequest(
                "Streaming takes one prompt per request; send several prompts without 'stream'.",
                param="prompt",
            )
        if self.max_tokens == 0 and not self.echo:
            raise InvalidRequest(
                "max_tokens of 0 only scores a prompt: it needs 'echo' to be true.",
                param="max_tokens",
            )
        if self.suffix:
            raise InvalidRequest("'suffix' is not supported by this model.", param="suffix")
        return self

    def prompts(self) -> list[Prompt]:
        given: Any = self.prompt
        if isinstance(given, str):
            return [given]
        if given and all(isinstance(p, int) for p in given):
            return [tuple(given)]
        return [p if isinstance(p, str) else tuple(p) for p in given]


# The answer's shapes are typed dicts, as in `chat.protocol` (and for the same reason).


class CompletionChoice(TypedDict):
    index: int
    text: str
    logprobs: dict[str, Any] | None
    finish_reason: FinishReasonOut


class CompletionResponse(TypedDict):
    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: UsageOut
    system_fingerprint: str | None
