"""Helpers for backends that call another server (a provider's API or an inference server)."""

from __future__ import annotations

import json
import os
import time
from email.utils import parsedate_to_datetime
from typing import Any

from corral.backends.base import GenerationRequest, SamplingParams, UsageMeter
from corral.backends.token_estimates import estimate_tokens, tokens_of_bytes
from corral.errors import (
    ConfigError,
    InvalidRequest,
    UpstreamError,
    UpstreamFailure,
    UpstreamRejected,
)
from corral.settings import RemoteModelConfig

# Per message, beyond its UTF-8 bytes: role markers and separators of any chat template.
_PER_MESSAGE_TOKENS = 8
# A shorter "key" is a test's or a placeholder; replacing it would mangle ordinary words.
_MIN_SECRET_LENGTH = 8


def api_key(config: RemoteModelConfig) -> str | None:
    """The provider key from the environment variable the config names; None if none named."""
    if config.api_key_env is None:
        return None
    value = os.environ.get(config.api_key_env)
    if not value:
        raise ConfigError(
            f"model '{config.name}': environment variable {config.api_key_env} "
            "(its api_key_env) is not set"
        )
    return value


def refuse_logit_bias(params: SamplingParams, provider: str) -> None:
    """Token ids are the model's own vocabulary; these providers take no logit biases."""
    if params.logit_bias:
        raise InvalidRequest(
            f"{provider} models take no 'logit_bias'; send the request without it.",
            param="logit_bias",
        )


def text_prompt(request: GenerationRequest) -> str:
    """A completion's prompt as a chat provider takes it: text, never token ids or scoring."""
    if request.prompt_tokens is not None:
        raise InvalidRequest(
            "This model takes prompts as text; prompts given as token ids are served by the "
            "local models only.",
            param="prompt",
        )
    if request.echo:
        raise InvalidRequest(
            "Scoring a prompt ('echo' with 'logprobs') is served by the local models only.",
            param="echo",
        )
    return request.prompt or ""


def prompt_token_bound(request: GenerationRequest) -> int:
    """A safe upper bound of the prompt's tokens for any tokenizer: one token per byte at most.

    Budgets reserve from this before the provider reports the exact count.
    """
    total = 16
    for message in request.messages or ():
        total += len(message.content.encode()) + _PER_MESSAGE_TOKENS
        for call in message.tool_calls:
            total += len(call.name.encode()) + len(call.arguments.encode()) + _PER_MESSAGE_TOKENS
    if request.prompt is not None:
        total += len(request.prompt.encode())
    for tool in request.params.tools:
        spec = {"name": tool.name, "description": tool.description, "parameters": tool.parameters}
        total += len(json.dumps(spec).encode())
    if request.params.json_schema:
        total += len(json.dumps(request.params.json_schema).encode())
    return total


def prompt_token_estimate(request: GenerationRequest) -> int:
    """The prompt's tokens as billed when the provider never reported them (a cut stream)."""
    return tokens_of_bytes(prompt_token_bound(request))


def meter_text(meter: UsageMeter, text: str) -> None:
    """Count streamed text until the provider reports exact usage (a client may leave first)."""
    meter.completion_tokens += estimate_tokens(text)


def redact_key(text: str, key: str) -> str:
    """`text` without the provider key in it (a provider may echo the key back in an error)."""
    if len(key) >= _MIN_SECRET_LENGTH:
        text = text.replace(key, "[redacted]")
    return text


def retry_after_s(headers: Any) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` (seconds or an HTTP date).

    `headers`: any mapping with `get`; a plain dict's names may be lower case or capitalised.
    """
    millis = _header(headers, "retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = _header(headers, "retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _header(headers: Any, name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.title())
    return None if value is None else str(value)


RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})


def classify(
    backend: str, status: int | None, detail: str, retry_after_s: float | None = None
) -> UpstreamFailure:
    """The corral error for an upstream failure (`status` None: no HTTP answer at all).

    Never put the provider key in `detail`.
    """
    # Why a backend failed (an address, a connection error, the provider's error page) is for
    # the operator's log: it goes in `detail`, not in the tenant's message.
    if status is None:
        return UpstreamError(
            f"Backend '{backend}' could not be reached.",
            backend=backend,
            retryable=True,
            code="upstream_unreachable",
            detail=detail,
        )
    if status in RETRYABLE_STATUSES:
        return UpstreamError(
            f"Backend '{backend}' is unavailable (HTTP {status}).",
            backend=backend,
            retryable=True,
            retry_after_s=retry_after_s,
            upstream_status=status,
            code="upstream_rate_limited" if status == 429 else "upstream_unavailable",
            detail=detail,
        )
    if status in (401, 403):
        return UpstreamError(
            f"Backend '{backend}' refused corral's credentials (HTTP {status}); the operator "
            "must check the provider key.",
            backend=backend,
            retryable=False,
            upstream_status=status,
            code="upstream_auth_failed",
        )
    return UpstreamRejected(
        f"Backend '{backend}' refused the request (HTTP {status}): {detail}",
        backend=backend,
        retryable=False,
        upstream_status=status,
    )
