"""Wire schemas of `POST /v1/chat/completions` (OpenAI's format)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import jsonschema
from pydantic import BaseModel, Field, model_validator

from corral.api.common import FinishReasonOut, SamplingFields, UsageOut, WireModel
from corral.errors import InvalidRequest


class TextPart(WireModel):
    type: Literal["text"]
    text: str


class Message(WireModel):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None
    name: str | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class TextFormat(WireModel):
    type: Literal["text"]


class JsonObjectFormat(WireModel):
    type: Literal["json_object"]


class JsonSchemaSpec(WireModel):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str | None = None
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = None

    @model_validator(mode="after")
    def _schema_is_valid(self) -> JsonSchemaSpec:
        try:
            jsonschema.Draft202012Validator.check_schema(self.schema_)
        except jsonschema.SchemaError as exc:
            raise InvalidRequest(
                f"response_format.json_schema.schema is not a valid JSON schema: {exc.message}",
                param="response_format",
            ) from None
        return self


class JsonSchemaFormat(WireModel):
    type: Literal["json_schema"]
    json_schema: JsonSchemaSpec


ResponseFormat = Annotated[
    TextFormat | JsonObjectFormat | JsonSchemaFormat, Field(discriminator="type")
]


class ChatCompletionRequest(SamplingFields):
    messages: list[Message] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    logprobs: bool | None = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    response_format: ResponseFormat | None = None

    @model_validator(mode="after")
    def _check_logprobs(self) -> ChatCompletionRequest:
        if self.top_logprobs and not self.logprobs:
            raise InvalidRequest(
                "'top_logprobs' requires 'logprobs' to be true.", param="top_logprobs"
            )
        return self

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def json_schema(self) -> dict[str, Any] | None:
        fmt = self.response_format
        if isinstance(fmt, JsonSchemaFormat):
            return fmt.json_schema.schema_
        if isinstance(fmt, JsonObjectFormat):
            return {}
        return None


class ResponseMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: None = None


class ChoiceLogprobs(BaseModel):
    content: list[dict[str, Any]]
    refusal: None = None


class Choice(BaseModel):
    index: int = 0
    message: ResponseMessage
    logprobs: ChoiceLogprobs | None = None
    finish_reason: FinishReasonOut


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: UsageOut
    system_fingerprint: str | None = None
