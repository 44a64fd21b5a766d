"""Wire schemas of `POST /v1/chat/completions` (OpenAI's format)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

from corral.api.common import FinishReasonOut, SamplingFields, UsageOut, WireModel
from corral.backends.schema_limits import SchemaLimits, check_structure
from corral.errors import InvalidRequest


class TextPart(WireModel):
    type: Literal["text"]
    text: str


class FunctionCallIn(WireModel):
    name: str
    arguments: str


class ToolCallIn(WireModel):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCallIn


class Message(WireModel):
    model_config = ConfigDict(
        # The published schema says what `_content_unless_assistant` enforces.
        json_schema_extra={
            "allOf": [
                {
                    # As OpenAI: only an assistant's message may lack content (tool calls).
                    "if": {
                        "properties": {"role": {"enum": ["system", "developer", "user", "tool"]}}
                    },
                    "then": {
                        "required": ["content"],
                        "properties": {"content": {"not": {"type": "null"}}},
                    },
                },
                {
                    "if": {"properties": {"role": {"const": "tool"}}},
                    "then": {
                        "required": ["tool_call_id"],
                        "properties": {"tool_call_id": {"type": "string", "minLength": 1}},
                    },
                },
            ]
        }
    )

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = Field(default=None, validate_default=True)
    name: str | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None

    @field_validator("content")
    @classmethod
    def _content_unless_assistant(
        cls, content: str | list[TextPart] | None, info: ValidationInfo
    ) -> str | list[TextPart] | None:
        # `role` is validated first; when it is invalid, that is the error to report.
        if content is None and info.data.get("role", "assistant") != "assistant":
            raise PydanticCustomError("missing", "Field required")
        return content

    @model_validator(mode="after")
    def _tool_messages_name_their_call(self) -> Message:
        if self.role == "tool" and not self.tool_call_id:
            raise InvalidRequest(
                "A message with role 'tool' needs 'tool_call_id' (the id of the call it answers).",
                param="messages",
            )
        return self

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
    def _schema_is_valid(self, info: ValidationInfo) -> JsonSchemaSpec:
        import jsonschema  # only for requests that bring a schema: memory most workers spare

        # First the limits: the validator recurses per level and a deep schema overflows it.
        limits = (info.context or {}).get("schema_limits") or SchemaLimits()
        check_structure(self.schema_, limits)
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


class FunctionSpec(WireModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


def check_parameters(function: FunctionSpec, param: str, limits: SchemaLimits) -> None:
    if function.parameters is None:
        return
    import jsonschema

    try:
        check_structure(function.parameters, limits)
    except InvalidRequest as exc:
        message = exc.message.replace("response_format", param, 1)
        raise type(exc)(message, param=param) from None
    try:
        jsonschema.Draft202012Validator.check_schema(function.parameters)
    except jsonschema.SchemaError as exc:
        raise InvalidRequest(
            f"Invalid schema for function '{function.name}': {exc.message}", param=param
        ) from None


class Tool(WireModel):
    type: Literal["function"]
    function: FunctionSpec


class NamedFunction(WireModel):
    name: str


class NamedToolChoice(WireModel):
    type: Literal["function"]
    function: NamedFunction


MAX_TOOLS = 128
"""As OpenAI's API: each tool's schema is part of every prompt."""


class ChatCompletionRequest(SamplingFields):
    messages: list[Message] = Field(min_length=1)
    tools: list[Tool] | None = Field(default=None, max_length=MAX_TOOLS)
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
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

    @model_validator(mode="after")
    def _check_tools(self, info: ValidationInfo) -> ChatCompletionRequest:
        # Worded as OpenAI's API words them: clients match on these.
        if self.tool_choice is not None and not self.tools:
            raise InvalidRequest(
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' "
                "are specified.",
                param="tool_choice",
            )
        names = [tool.function.name for tool in self.tools or []]
        chosen = self.chosen_tool()
        if isinstance(self.tool_choice, NamedToolChoice) and chosen not in names:
            raise InvalidRequest(
                f"Invalid value for 'tool_choice': no function named '{chosen}' was specified "
                "in the 'tools' parameter.",
                param="tool_choice",
            )
        limits = (info.context or {}).get("schema_limits") or SchemaLimits()
        for index, tool in enumerate(self.tools or []):
            check_parameters(tool.function, f"tools[{index}].function.parameters", limits)
        return self

    def chosen_tool(self) -> str | None:
        """`tool_choice` as the backends take it: a mode, or the one function's name."""
        if isinstance(self.tool_choice, NamedToolChoice):
            return self.tool_choice.function.name
        return self.tool_choice

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def json_schema_strict(self) -> bool:
        fmt = self.response_format
        return isinstance(fmt, JsonSchemaFormat) and bool(fmt.json_schema.strict)

    def json_schema(self) -> dict[str, Any] | None:
        fmt = self.response_format
        if isinstance(fmt, JsonSchemaFormat):
            return fmt.json_schema.schema_
        if isinstance(fmt, JsonObjectFormat):
            return {}
        return None


# The answer's shapes are typed dicts, not pydantic models: the serving layer builds them from
# values it made itself, so validating them again only cost time (several times what building
# the dicts and encoding them with orjson costs: bench/results/design_figures.md).


class FunctionCallOut(TypedDict):
    name: str
    arguments: str


class ToolCallOut(TypedDict):
    id: str
    type: Literal["function"]
    function: FunctionCallOut


class ResponseMessage(TypedDict):
    role: Literal["assistant"]
    content: str | None
    refusal: None
    tool_calls: list[ToolCallOut] | None


class ChoiceLogprobs(TypedDict):
    content: list[dict[str, Any]]
    refusal: None


class Choice(TypedDict):
    index: int
    message: ResponseMessage
    logprobs: ChoiceLogprobs | None
    finish_reason: FinishReasonOut


class ChatCompletionResponse(TypedDict):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]
    usage: UsageOut
    system_fingerprint: str | None
