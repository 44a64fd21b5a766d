"""Partner models on Google's Gemini API (`backend = "gemini"`), through the `google-genai` SDK."""

from __future__ import annotations

from corral.backends.base import BuiltBackend
from corral.backends.gemini_api.backend import GeminiBackend
from corral.backends.remote.common import api_key
from corral.errors import ConfigError
from corral.settings import ModelConfig, RemoteModelConfig

__all__ = ["GeminiBackend", "build"]


def build(config: ModelConfig) -> BuiltBackend:
    """Its factory (`backends.factories`): the key is read from `api_key_env` now, at start."""
    if not isinstance(config, RemoteModelConfig):
        raise ConfigError(f"model '{config.name}': backend 'gemini' needs a remote model entry")
    key = api_key(config)
    if key is None:
        raise ConfigError(
            f"model '{config.name}': backend 'gemini' needs a provider key; set api_key_env to "
            "the name of the environment variable that holds it"
        )
    return BuiltBackend(GeminiBackend(config, key), config.context_length)
