"""Wire schemas of `POST /v1/responses` (OpenAI's Responses API), as far as corral serves it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Field, Tag, ValidationInfo, model_validator

from corral.api.chat.protocol import FunctionSpec, JsonSchemaSpec, check_parameters
from corral.api.common import WireModel
from corral.backends.schema_limits import SchemaLimits
from corral.errors import InvalidRequest

MAX_INPUT_ITEMS = 2048
"""Items in one request's `input` (docs/limits.md): each becomes part of the prompt."""


class TextContent(WireModel):
    type: Literal["input_text", "output_text", "text"]
    text: str


class OtherContent(WireModel):
    """Images, audio and files: parsed so the refusal can name them, never served."""

    type: Literal["input_image", "input_audio", "input_file", "refusal"]


Content = Annotated[TextContent | OtherContent, Field(discriminator="type")]


class MessageItem(WireModel):
    type: Literal["message"] = "message"
    role: Literal["user", "system", "developer", "assistant"]
    content: str | list[Content]
    id: str | None = None


class FunctionCallItem(WireModel):
    type: Literal["function_call"]
    call_id: str = Field(min_length=1)
    name: str
    arguments: str
    id: str | None = None


class FunctionCallOutputItem(WireModel):
    type: Literal["function_call_output"]
    call_id: str = Field(min_length=1)
    output: str
    id: str | None = None


class ItemReference(WireModel):
    type: Literal["item_reference"]
    id: str


def _item_kind(value: Any) -> str:
    # An "easy" input message may leave out its type, as the SDK's own examples do.
    if isinstance(value, dict):
        return str(value.get("type", "message"))
    return str(getattr(value, "type", "message"))


InputItem = Annotated[
    Annotated[MessageItem, Tag("message")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")]
    | Annotated[ItemReference, Tag("item_reference")],
    Discriminator(_item_kind),
]


class FunctionTool(WireModel):
    type: Literal["function"]
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionChoice(WireModel):
    type: Literal["function"]
    name: str


class TextFormatText(WireModel):
    type: Literal["text"]


class TextFormatJsonObject(WireModel):
    type: Literal["json_object"]


class TextFormatJsonSchema(WireModel):
    type: Literal["json_schema"]
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    schema_: dict[str, Any] = Field(alias="schema")
    description: str | None = None
    strict: bool | None = None


class TextConfig(WireModel):
    format: Annotated[
        TextFormatText | TextFormatJsonObject | TextFormatJsonSchema, Field(discriminator="type")
    ] = Field(default_factory=lambda: TextFormatText(type="text"))


class ResponsesRequest(WireModel):
    model: str = Field(min_length=1)
    input: str | list[InputItem] = Field(max_length=MAX_INPUT_ITEMS)
    instructions: str | None = None
    previous_response_id: str | None = None
    store: bool = True
    stream: bool = False
    tools: list[FunctionTool] | None = Field(default=None, max_length=128)
    tool_choice: Literal["none", "auto", "required"] | FunctionChoice | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    metadata: dict[str, str] | None = Field(default=None, max_length=16)
    user: str | None = None

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> ResponsesRequest:
        if self.tool_choice is not None and not self.tools:
            raise InvalidRequest(
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' "
                "are specified.",
                param="tool_choice",
            )
        limits = (info.context or {}).get("schema_limits") or SchemaLimits()
        schema = self.json_schema()
        if schema:
            JsonSchemaSpec.model_validate(
                {"name": "format", "schema": schema}, context={"schema_limits": limits}
            )
        for index, tool in enumerate(self.tools or []):
            spec = FunctionSpec(name=tool.name, parameters=tool.parameters)
            check_parameters(spec, f"tools[{index}].parameters", limits)
        return self

    def chosen_tool(self) -> str | None:
        if isinstance(self.tool_choice, FunctionChoice):
            return self.tool_choice.name
        return self.tool_choice

    def json_schema(self) -> dict[str, Any] | None:
        fmt = self.text.format if self.text else None
        if isinstance(fmt, TextFormatJsonSchema):
            return fmt.schema_
        if isinstance(fmt, TextFormatJsonObject):
            return {}
        return None


class ResponseObject(BaseModel):
    """A response as created, stored and retrieved (OpenAI's `response` object)."""

    id: str
    object: Literal["response"]
    created_at: int
    status: Literal["completed", "incomplete", "in_progress"]
    error: dict[str, Any] | None
    incomplete_details: dict[str, Any] | None
    model: str
    output: list[dict[str, Any]]
    usage: dict[str, Any] | None
    instructions: str | None
    max_output_tokens: int | None
    previous_response_id: str | None
    temperature: float
    top_p: float
    store: bool
    parallel_tool_calls: bool
    tool_choice: str | dict[str, Any]
    tools: list[dict[str, Any]]
    text: dict[str, Any]
    truncation: str
    reasoning: dict[str, Any]
    metadata: dict[str, str]
    user: str | None


class DeletedResponse(BaseModel):
    id: str
    object: Literal["response"] = "response"
    deleted: bool = True


class InputItemList(BaseModel):
    object: Literal["list"] = "list"
    data: list[dict[str, Any]]
    first_id: str | None
    last_id: str | None
    has_more: bool
