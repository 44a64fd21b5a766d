"""Wire schemas of `POST /v1/embeddings` (OpenAI's format)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from typing_extensions import TypedDict

from corral.api.common import WireModel
from corral.errors import InvalidRequest

MAX_INPUTS = 2048

TOKEN_IDS_REFUSED = (
    "'input' as token ids is not supported: this server cannot tell which tokenizer made them, "
    "and ids from another one (LangChain's OpenAIEmbeddings sends tiktoken cl100k ids by "
    "default) would embed unrelated text. Send the text itself; in LangChain set "
    "check_embedding_ctx_length=False."
)


class EmbeddingRequest(WireModel):
    model: str = Field(min_length=1)
    input: str | list[str]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None

    @field_validator("input", mode="before")
    @classmethod
    def _refuse_token_ids(cls, value: Any) -> Any:
        if isinstance(value, list) and any(_is_token_ids(item) for item in value):
            raise InvalidRequest(TOKEN_IDS_REFUSED, param="input", code="invalid_value")
        return value

    @model_validator(mode="after")
    def _check_input(self) -> EmbeddingRequest:
        inputs = self.inputs()
        if not inputs or len(inputs) > MAX_INPUTS:
            raise InvalidRequest(
                f"'input' must hold between 1 and {MAX_INPUTS} strings.", param="input"
            )
        if any(not text for text in inputs):
            raise InvalidRequest("'input' cannot contain an empty string.", param="input")
        if self.dimensions is not None:
            raise InvalidRequest("'dimensions' is not supported by this model.", param="dimensions")
        return self

    def inputs(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)


def _is_token_ids(item: Any) -> bool:
    """An id (`list[int]` input) or a list of ids (`list[list[int]]`)."""
    if isinstance(item, list):
        return bool(item) and all(isinstance(i, int) for i in item)
    return isinstance(item, int) and not isinstance(item, bool)


# The answer's shapes are typed dicts, as in `chat.protocol` (and for the same reason).


class Embedding(TypedDict):
    object: Literal["embedding"]
    index: int
    embedding: list[float] | str


class EmbeddingUsage(TypedDict):
    prompt_tokens: int
    total_tokens: int


class EmbeddingResponse(TypedDict):
    object: Literal["list"]
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage
