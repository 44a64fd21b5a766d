"""OpenAI's API, and servers that speak it (vLLM, llama.cpp's server, ...), as backends.

`build` serves a `[[models]]` entry from its `base_url` (or its first replica); the router calls
`build_for_url` once per replica of an `openai-compatible` model.
"""

from __future__ import annotations

from dataclasses import dataclass

from corral.backends.base import BuiltBackend
from corral.backends.openai_api.backend import OpenAIBackend
from corral.backends.openai_api.translate import Options
from corral.backends.remote.common import api_key
from corral.errors import ConfigError
from corral.settings import ModelConfig, RemoteModelConfig

__all__ = ["OpenAIBackend", "build", "build_for_url"]

PLACEHOLDER_KEY = "EMPTY"
"""Sent to compatible servers that need no key, as OpenAI's own clients do (some servers
refuse a request with no `Authorization` at all)."""


@dataclass(frozen=True, slots=True)
class _Kind:
    needs_key: bool
    max_tokens_field: str
    default_base_url: str | None = None


_KINDS = {
    # OpenAI's reasoning models refuse `max_tokens`; every current model takes the newer name.
    "openai": _Kind(True, "max_completion_tokens", "https://api.openai.com/v1"),
    "openai-compatible": _Kind(False, "max_tokens"),
}


def build(config: ModelConfig) -> BuiltBackend:
    remote = _remote(config)
    base_url = remote.base_url or (remote.replicas[0].base_url if remote.replicas else None)
    base_url = base_url or _kind(remote).default_base_url
    if base_url is None:
        raise ConfigError(f"model '{remote.name}': base_url is missing")
    return build_for_url(remote, base_url)


def build_for_url(config: ModelConfig, base_url: str) -> BuiltBackend:
    """The backend for one server of `config` (one replica)."""
    remote = _remote(config)
    kind = _kind(remote)
    key = api_key(remote)
    if key is None and kind.needs_key:
        raise ConfigError(
            f"model '{remote.name}': backend '{remote.backend}' needs a key: set api_key_env "
            "to the name of the environment variable that holds it"
        )
    options = Options(remote.upstream_model, kind.max_tokens_field)
    backend = OpenAIBackend(remote, base_url, key or PLACEHOLDER_KEY, options)
    return BuiltBackend(backend, remote.context_length)


def _remote(config: ModelConfig) -> RemoteModelConfig:
    if not isinstance(config, RemoteModelConfig) or config.backend not in _KINDS:
        raise ConfigError(f"model '{config.name}': not an OpenAI-style model")
    return config


def _kind(config: RemoteModelConfig) -> _Kind:
    return _KINDS[config.backend]
