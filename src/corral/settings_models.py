"""The `[[models]]` entries of the configuration: a GGUF served in-process, or a model another
server runs (a partner's API, the operator's own inference servers); with the names, tiers and
prices every entry shares. `corral.settings` reads them into `Settings.models`."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

Tier = Literal["open", "premium", "partner", "private"]
Policy = Literal["allow", "pseudonymize", "pseudonymize_strict", "local_only"]
"""A tenant's data policy for partner models (docs/privacy.md)."""
MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"
LICENCE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
TENANT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
Price = Decimal
"""Currency units per million tokens; at most 6 decimals, since money is kept in micro-units."""


def check_price(value: Decimal) -> Decimal:
    if value < 0 or not value.is_finite():
        raise ValueError("a price must be a finite amount >= 0")
    if value != value.quantize(Decimal("0.000001")):
        raise ValueError("a price has at most 6 decimals (money is kept in micro-units)")
    return value


EMBEDDED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_MODEL_NAME = "smollm2-135m-instruct"


class _ModelCommon(BaseModel):
    """What every `[[models]]` entry has, whatever serves it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=MODEL_NAME_PATTERN)
    tier: Tier = "open"
    licence: str | None = None
    input_price_per_mtok: Price = Decimal(0)
    """Per million prompt tokens, in the configured currency."""
    output_price_per_mtok: Price = Decimal(0)
    """Per million completion tokens, in the configured currency."""
    cached_input_price_per_mtok: Price | None = None
    """Per million prompt tokens served from the prefix cache (OpenAI's `cached_tokens`);
    unset, they cost `input_price_per_mtok`."""
    owner: str | None = Field(default=None, pattern=TENANT_NAME_PATTERN)
    """The tenant a `private` model belongs to (its fine-tuned model); nobody else sees it."""

    @field_validator("input_price_per_mtok", "output_price_per_mtok")
    @classmethod
    def _price_in_micro_units(cls, value: Decimal) -> Decimal:
        return check_price(value)

    @field_validator("cached_input_price_per_mtok")
    @classmethod
    def _cached_price_in_micro_units(cls, value: Decimal | None) -> Decimal | None:
        return None if value is None else check_price(value)

    @model_validator(mode="after")
    def _cached_input_is_not_dearer(self) -> _ModelCommon:
        cached = self.cached_input_price_per_mtok
        if cached is not None and cached > self.input_price_per_mtok:
            raise ValueError("cached_input_price_per_mtok is at most input_price_per_mtok")
        return self

    @model_validator(mode="after")
    def _private_models_have_an_owner(self) -> _ModelCommon:
        if (self.tier == "private") != (self.owner is not None):
            raise ValueError("a model has an owner exactly when its tier is 'private'")
        return self


class LocalModelConfig(_ModelCommon):
    """A GGUF model served in-process by llama.cpp."""

    backend: Literal["llama-cpp"] = "llama-cpp"
    path: Path
    context_length: int | None = Field(default=None, ge=32, le=1_048_576)
    threads: int | None = Field(default=None, ge=1, le=512)
    instances: int = Field(default=1, ge=1, le=64)
    queue_size: int = Field(default=32, ge=0, le=100_000)
    max_per_tenant: int | None = Field(default=None, ge=1, le=64)
    """Instances one tenant may hold at once; the others stay free for other tenants."""
    slots: int = Field(default=1, ge=1, le=64)
    """Sequences one instance generates at once (continuous batching). 1 generates one
    sequence at a time, bit-exact from run to run; above 1, `instances` must be 1, and a
    sequence's logits may differ slightly with the company it is batched with."""
    kv_cells: int | None = Field(default=None, ge=256, le=1_048_576)
    """With `slots` > 1, the cells of the one KV cache all sequences share (a cell holds one
    token of one sequence; a prefix shared by several sequences is held once). Each sequence may
    still use the model's whole context; by default 16384, or the context length if larger.
    Cells in use by finished sequences are freed when needed; a sequence that finds none left
    fails with 503 `kv_cache_full` (the most recently started one goes, the others go on)."""
    prompt_tokens_per_step: int = Field(default=256, ge=16, le=8192)
    """With `slots` > 1, prompt tokens read per batched step, all new prompts together: the
    most one step adds to the wait for the next token of the sequences already writing."""
    flash_attention: bool = True
    kv_cache_type: Literal["f16", "q8_0", "q4_0"] = "q8_0"
    """The KV cache's number format; q8_0 halves its memory at a negligible cost in quality.
    q4_0 takes about half of q8_0's memory again (16384 cells of SmolLM2-135M: ~106 MB against
    ~200), at a larger drift of log-probabilities and a slower prompt (docs/limits.md)."""
    embeddings: bool = True
    embedding_context_length: int = Field(default=2048, ge=32, le=32_768)
    max_adapters: int = Field(default=8, ge=1, le=1024)
    """Fine-tuned models' LoRA adapters an instance keeps loaded (about 14 MB each on
    SmolLM2-135M); past it, the least recently used is freed, and loaded again when next
    asked for (milliseconds)."""

    @field_validator("path")
    @classmethod
    def _path_is_a_file(cls, path: Path) -> Path:
        path = path.expanduser()
        if not path.is_file():
            raise ValueError(f"no such file: {path}")
        return path

    @model_validator(mode="after")
    def _batching_uses_one_instance(self) -> LocalModelConfig:
        if self.slots > 1 and self.instances > 1:
            raise ValueError("slots > 1 batches sequences in one instance: set instances = 1")
        return self

    @model_validator(mode="after")
    def _cache_holds_one_whole_context(self) -> LocalModelConfig:
        cells, context = self.kv_cells, self.context_length
        if cells is not None and context is not None and cells < context:
            raise ValueError("kv_cells must be at least context_length")
        return self

    @model_validator(mode="after")
    def _quantized_cache_needs_flash_attention(self) -> LocalModelConfig:
        if self.kv_cache_type != "f16" and not self.flash_attention:
            raise ValueError(
                f"kv_cache_type = '{self.kv_cache_type}' needs flash_attention = true "
                "(llama.cpp quantizes the V cache only with flash attention)"
            )
        return self


RemoteBackend = Literal["openai", "anthropic", "gemini", "openai-compatible"]


class Replica(BaseModel):
    """One server of an `openai-compatible` model served by several (e.g. vLLM replicas)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = Field(pattern=r"^https?://")
    weight: int = Field(default=1, ge=1, le=1000)


class RemoteModelConfig(_ModelCommon):
    """A model another server runs: a partner's API, or the operator's own inference servers."""

    backend: RemoteBackend
    upstream_model: str = Field(min_length=1, max_length=256)
    """The provider's name for the model (`gpt-4o-mini`)."""
    base_url: str | None = Field(default=None, pattern=r"^https?://")
    replicas: list[Replica] = []
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """The environment variable holding the provider key (the key never goes in the file)."""
    context_length: int = Field(default=128_000, ge=32, le=10_000_000)
    timeout_s: float = Field(default=60.0, gt=0, le=3600)
    """Deadline of one attempt, first byte to last."""

    @model_validator(mode="after")
    def _where_to_send(self) -> RemoteModelConfig:
        if self.base_url and self.replicas:
            raise ValueError("give base_url or replicas, not both")
        if self.backend == "openai-compatible" and not (self.base_url or self.replicas):
            raise ValueError("an openai-compatible model needs base_url (or replicas)")
        if self.replicas and self.backend != "openai-compatible":
            raise ValueError("replicas are for openai-compatible models")
        return self


def _model_kind(value: Any) -> str:
    backend = value.get("backend", "llama-cpp") if isinstance(value, dict) else value.backend
    return "local" if backend == "llama-cpp" else "remote"


ModelConfig = Annotated[
    Annotated[LocalModelConfig, Tag("local")] | Annotated[RemoteModelConfig, Tag("remote")],
    Discriminator(_model_kind),
]
"""One `[[models]]` entry."""
