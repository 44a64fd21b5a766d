"""The one protocol every kind of backend implements, and the values that cross it.

A backend knows nothing of HTTP, keys or billing: it takes a `GenerationRequest` and returns a
`GenerationResult`, or streams `TextDelta`s ending in one `Finished`. Tokens are counted by the
backend (the model's own tokenizer, or the provider's reported usage), because billing uses them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from corral.cancellation import Cancellation

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]
Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call the model asked for; `arguments` is JSON text, as OpenAI sends it."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call: its name, what it does, and a JSON schema of its input."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    """On an assistant message: the calls it made."""
    tool_call_id: str | None = None
    """On a tool message: which call this is the result of."""


@dataclass(frozen=True, slots=True)
class SamplingParams:
    max_tokens: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logprobs: bool = False
    logit_bias: tuple[tuple[int, float], ...] = ()
    """(token id, bias added to its logit), as OpenAI's `logit_bias`: -100 bans, 100 forces."""
    top_logprobs: int = 0
    json_schema: dict[str, Any] | None = None
    """Constrain the output to this JSON schema (`{}` means any JSON object)."""
    json_schema_strict: bool = False
    """The client asked for `strict`: a keyword the backend cannot enforce is refused."""
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str | None = None
    """"auto", "none", "required", or the name of the one function the model must call."""


@dataclass(slots=True)
class UsageMeter:
    """Tokens a request has used so far, kept current by the backend while it runs.

    Billing reads it when a request ends early (the client left, the backend failed), so those
    tokens are charged too. `prompt_tokens` is set once the backend starts on the prompt.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    """Of `prompt_tokens`, those found already computed (a shared prefix), not read again."""


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """A chat (`messages`) or a plain completion (`prompt`); exactly one is set."""

    request_id: str
    params: SamplingParams
    messages: tuple[ChatMessage, ...] | None = None
    prompt: str | None = None
    prompt_tokens: tuple[int, ...] | None = None
    """A completion prompt given as token ids instead of text (local models only)."""
    echo: bool = False
    """Score the prompt too: logprobs for every prompt token before the generated ones."""
    meter: UsageMeter = field(default_factory=UsageMeter, compare=False)
    cancelled: Cancellation = field(default_factory=Cancellation, compare=False)
    """Set when nobody wants the answer any more; backends stop as soon as they see it."""
    party: str = ""
    """Who asks (the tenant): a local model shares its instances between parties in turn."""
    audit: list[dict[str, Any]] = field(default_factory=list, compare=False)
    """The audit rows of the partner calls made for it (the privacy guard adds them); written
    with its settlement, in one transaction."""
    adapter: Path | None = None
    """A fine-tuned model's GGUF LoRA, run on the local base for this request only."""


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    """Texts to embed, one vector each. `meter.prompt_tokens` counts the inputs embedded so far
    (billing reads it when a request ends early); `cancelled` stops a backend between inputs."""

    inputs: list[str]
    meter: UsageMeter = field(default_factory=UsageMeter, compare=False)
    cancelled: Cancellation = field(default_factory=Cancellation, compare=False)
    party: str = ""
    """Who asks (the tenant): a local model shares its instances between parties in turn."""
    audit: list[dict[str, Any]] = field(default_factory=list, compare=False)
    """As `GenerationRequest.audit`."""


@dataclass(frozen=True, slots=True)
class TopLogprob:
    token: str
    logprob: float
    bytes: list[int]


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    token: str
    logprob: float | None
    """None for a prompt's first token, which nothing precedes (echoed prompts)."""
    bytes: list[int]
    top_logprobs: list[TopLogprob]


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    """Of `prompt_tokens`, those served from a cache of computed prefixes (OpenAI's
    `prompt_tokens_details.cached_tokens`); billed at the model's cached input price if it
    has one."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str
    logprobs: list[TokenLogprob] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """Part of a streamed tool call: the first part of call `index` carries its id and name."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class Finished:
    reason: FinishReason
    usage: Usage


StreamEvent = TextDelta | ToolCallDelta | Finished


@dataclass(frozen=True, slots=True)
class GenerationResult:
    text: str
    finish_reason: FinishReason
    usage: Usage
    logprobs: list[TokenLogprob] | None = None
    tool_calls: list[ToolCall] | None = None


@dataclass(frozen=True, slots=True)
class EmbeddingResult:
    vectors: list[list[float]]
    prompt_tokens: int


@dataclass(frozen=True, slots=True)
class BackendHealth:
    ready: bool
    detail: str
    queue_depth: int = 0
    """Requests waiting for this backend right now."""


@runtime_checkable
class Backend(Protocol):
    """What the gateway needs from any source of tokens."""

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        """Run to completion and return the whole answer."""
        ...

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        """Admit the request, then return its events; admission errors raise here, not later."""
        ...

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResult:
        """One vector per input; stops early when `request.cancelled` is set."""
        ...

    async def count_prompt_tokens(self, request: GenerationRequest) -> int:
        """The prompt's tokens as this model will see them (exact, or a safe upper bound).

        Budgets reserve a request's maximum cost from this before it runs. Raises the same
        errors `generate` would for a prompt that cannot be served (e.g. too long).
        """
        ...

    def health(self) -> BackendHealth: ...

    async def start(self) -> None:
        """Acquire resources ahead of the first request (load weights, open pools)."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class BuiltBackend:
    """What a backend factory (`backends.factories`) returns for a model of the config."""

    backend: Backend
    context_length: int
