"""Partner models through Anthropic's Messages API (`backend = "anthropic"`).

`backends.factories` imports this package only when a model uses it; `build` is its factory.
"""

from __future__ import annotations

from corral.backends.anthropic_api.backend import AnthropicBackend
from corral.backends.base import BuiltBackend
from corral.backends.remote.common import api_key
from corral.errors import ConfigError
from corral.settings import ModelConfig, RemoteModelConfig

__all__ = ["AnthropicBackend", "build"]


def build(config: ModelConfig) -> BuiltBackend:
    """The backend for one `[[models]]` entry; its key is read from `api_key_env` now, at start."""
    if not isinstance(config, RemoteModelConfig):
        raise ConfigError(f"model '{config.name}': the anthropic backend needs a remote model")
    key = api_key(config)
    if key is None:
        raise ConfigError(
            f"model '{config.name}': set api_key_env to the environment variable that holds "
            "the Anthropic API key"
        )
    return BuiltBackend(AnthropicBackend(config, key), config.context_length)
