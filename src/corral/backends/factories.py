"""Which class serves each `backend = "..."` kind of the config file; no if/elif on names."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from corral.backends.base import BuiltBackend
from corral.backends.schema_limits import SchemaLimits
from corral.errors import ConfigError
from corral.settings import LocalModelConfig, ModelConfig


def _llama_cpp(config: ModelConfig, schema_limits: SchemaLimits) -> BuiltBackend:
    # Imported here: llama.cpp (with numpy and jinja2) costs a gateway with only remote models
    # tens of megabytes per worker.
    from corral.backends.llama_cpp import LlamaCppBackend

    assert isinstance(config, LocalModelConfig)
    backend = LlamaCppBackend(config, schema_limits)
    return BuiltBackend(backend, backend.context_length)


# Local backends compile schemas themselves, so they take the schema limits.
FACTORIES: dict[str, Callable[[ModelConfig, SchemaLimits], BuiltBackend]] = {
    "llama-cpp": _llama_cpp
}
# Remote backends, imported only when a model uses them: "module:function" of a factory.
REMOTE_FACTORIES = {
    "openai": "corral.backends.openai_api:build",
    "openai-compatible": "corral.backends.openai_api:build",
    "anthropic": "corral.backends.anthropic_api:build",
    "gemini": "corral.backends.gemini_api:build",
}


def build(config: ModelConfig, schema_limits: SchemaLimits | None = None) -> BuiltBackend:
    """The one backend serving `config` (a model with replicas: `routing.replicas.build`)."""
    local = FACTORIES.get(config.backend)
    if local is not None:
        return local(config, schema_limits or SchemaLimits())
    return _remote_factory(config)(config)


def _remote_factory(config: ModelConfig) -> Callable[[ModelConfig], BuiltBackend]:
    target = REMOTE_FACTORIES.get(config.backend)
    try:
        if target is None:
            raise ImportError(config.backend)
        module, _, name = target.partition(":")
        factory: Callable[[ModelConfig], BuiltBackend] = getattr(
            importlib.import_module(module), name
        )
    except (ImportError, AttributeError):
        raise ConfigError(
            f"model '{config.name}': backend '{config.backend}' is not available in this build"
        ) from None
    return factory
