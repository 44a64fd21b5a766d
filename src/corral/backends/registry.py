"""Which class serves each `backend = "..."` kind of the config file; no if/elif on names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from corral.backends.base import Backend
from corral.backends.llama_cpp import LlamaCppBackend
from corral.errors import ConfigError
from corral.settings import LocalModelConfig, ModelConfig


@dataclass(frozen=True, slots=True)
class BuiltBackend:
    backend: Backend
    context_length: int


def _llama_cpp(config: ModelConfig) -> BuiltBackend:
    assert isinstance(config, LocalModelConfig)
    backend = LlamaCppBackend(config)
    return BuiltBackend(backend, backend.context_length)


FACTORIES: dict[str, Callable[[ModelConfig], BuiltBackend]] = {"llama-cpp": _llama_cpp}


def build(config: ModelConfig) -> BuiltBackend:
    factory = FACTORIES.get(config.backend)
    if factory is None:
        raise ConfigError(
            f"model '{config.name}': backend '{config.backend}' is not available in this build"
        )
    return factory(config)
