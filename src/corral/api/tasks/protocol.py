"""Wire schemas of the task endpoints. Inputs are checked by the task readers (which name the
offending post, row or line), so these only shape the request."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from corral.errors import InvalidRequest

Language = Literal["en", "de"]


class _TaskRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1)
    language: Language | None = None
    """The answer's language; by default the input's."""
    stream: bool = False
    """Progress as server-sent events (stage, chunk i of n, partial results), the answer as
    the last event."""


class SummarizeRequest(_TaskRequest):
    posts: list[dict[str, Any]] = Field(min_length=1)
    focus: str | None = Field(default=None, max_length=500)
    mode: Literal["fast", "thorough"] = "fast"
    """"fast": topics are found in code and the model titles them (seconds on the embedded
    model); "thorough": the model reads every post (for partner models with large
    contexts)."""


class ExplainRequest(_TaskRequest):
    chat: str | None = None
    """A WhatsApp export (Android or iOS, English or German) as text."""
    messages: list[dict[str, Any]] | None = None
    """Or the messages as JSON: author, text, optional time."""
    mode: Literal["fast", "thorough"] = "fast"
    """"fast": rules find decisions and open questions, the model phrases the explanation from
    them (seconds on the embedded model); "thorough": the model reads every message (for
    partner models with large contexts)."""

    @model_validator(mode="after")
    def _one_input(self) -> ExplainRequest:
        if (self.chat is None) == (self.messages is None):
            raise InvalidRequest("Give the conversation as 'chat' (text) or 'messages' (JSON).")
        return self


class TipsRequest(_TaskRequest):
    posts: list[dict[str, Any]] | None = None
    csv: str | None = None
    """Or the posts as CSV text with a header row."""

    @model_validator(mode="after")
    def _one_input(self) -> TipsRequest:
        if (self.posts is None) == (self.csv is None):
            raise InvalidRequest("Give the creator's posts as 'posts' (JSON) or 'csv'.")
        return self


class TaskResponse(RootModel[dict[str, Any]]):
    """The task's JSON object, as its published schema describes."""
