"""Wire schemas of the legacy `POST /v1/completions` (OpenAI's format)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator
from typing_extensions import TypedDict

from corral.api.common import FinishReasonOut, SamplingFields, UsageOut
from corral.errors import InvalidRequest


class CompletionRequest(SamplingFields):
    prompt: str | list[str]
    max_tokens: int | None = Field(default=16, ge=1)
    echo: bool | None = False
    logprobs: int | None = Field(default=None, ge=0, le=5)
    suffix: str | None = None
    best_of: int | None = Field(default=None, ge=1, le=1)

    @model_validator(mode="after")
    def _single_prompt(self) -> CompletionRequest:
        if isinstance(self.prompt, list) and len(self.prompt) != 1:
            raise InvalidRequest(
                "Only one prompt per request is supported; send a string or a list of one.",
                param="prompt",
            )
        if self.suffix:
            raise InvalidRequest("'suffix' is not supported by this model.", param="suffix")
        return self

    def prompt_text(self) -> str:
        return self.prompt[0] if isinstance(self.prompt, list) else self.prompt


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
