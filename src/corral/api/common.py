"""Wire fields shared by the chat and legacy completion endpoints."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
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

    @model_validator(mode="after")
    def _check(self) -> SamplingFields:
        if self.n not in (None, 1):
            raise InvalidRequest("Only n=1 is supported.", param="n", code="invalid_value")
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


class UsageOut(TypedDict):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


def usage_out(usage: Usage) -> UsageOut:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
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
