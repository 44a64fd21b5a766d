"""Wire fields shared by the chat and legacy completion endpoints."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from typing_extensions import TypedDict

from corral.backends.base import TokenLogprob, Usage
from corral.errors import InvalidRequest


class WireModel(BaseModel):
    """Request schemas: strict JSON types, unknown fields ignored (as OpenAI does)."""

    model_config = ConfigDict(extra="ignore", strict=True)


StopField = Annotated[str | list[str] | None, Field(default=None)]


class StreamOptions(WireModel):
    include_usage: bool = False


class SamplingFields(WireModel):
    """The sampling parameters both generation endpoints accept."""

    model: str = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1)
    stop: StopField = None
    seed: int | None = None
    n: int | None = Field(default=None, ge=1, le=128)
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    user: str | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    logit_bias: dict[str, float] | None = Field(default=None, max_length=300)

    @field_validator("logit_bias")
    @classmethod
    def _token_ids_and_bounds(cls, bias: dict[str, float] | None) -> dict[str, float] | None:
        for token, value in (bias or {}).items():
            if not token.isdigit():
                raise InvalidRequest(
                    f"Invalid key in 'logit_bias': '{token}' is not a token id.",
                    param="logit_bias",
                )
            if not -100 <= value <= 100:
                raise InvalidRequest(
                    f"Invalid value in 'logit_bias' for token {token}: {value} is outside "
                    "-100 to 100.",
                    param="logit_bias",
                )
        return bias

    def biases(self) -> tuple[tuple[int, float], ...]:
        return tuple((int(token), value) for token, value in (self.logit_bias or {}).items())

    @model_validator(mode="after")
    def _check(self) -> SamplingFields:
        if self.n not in (None, 1):
            raise InvalidRequest(
                f"'n' {self.n} is not supported: this server returns one choice per request "
                "(n=1). Send the request once per choice wanted, with different seeds.",
                param="n",
                code="invalid_value",
            )
        stops = [self.stop] if isinstance(self.stop, str) else (self.stop or [])
        if len(stops) > 4:
            raise InvalidRequest("'stop' accepts at most 4 sequences.", param="stop")
        if self.stream_options is not None and not self.stream:
            raise InvalidRequest(
                "'stream_options' is only allowed when 'stream' is true.", param="stream_options"
            )
        return self

    def stop_sequences(self) -> tuple[str, ...]:
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())

    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class PromptTokensDetails(TypedDict):
    cached_tokens: int


class UsageOut(TypedDict):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails


def usage_out(usage: Usage) -> UsageOut:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        # As OpenAI's: the prompt's tokens found in the prefix cache, included in prompt_tokens.
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
    }


FinishReasonOut = Literal["stop", "length", "tool_calls", "content_filter"]


def logprob_content(items: list[TokenLogprob]) -> list[dict[str, object]]:
    return [
        {
            "token": item.token,
            "logprob": item.logprob,
            "bytes": item.bytes,
            "top_logprobs": [
                {"token": t.token, "logprob": t.logprob, "bytes": t.bytes}
                for t in item.top_logprobs
            ],
        }
        for item in items
    ]
