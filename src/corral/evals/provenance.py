"""What a manifest says about the model a run called: for a local model, the SHA-256 of the
GGUF actually configured and the settings that move its log-probs; for a partner or the
operator's own servers, the upstream model name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from corral.catalog import build_model_configs
from corral.settings import LocalModelConfig, RemoteModelConfig, Settings


def model_facts(settings: Settings, model_id: str, home: Path) -> dict[str, Any]:
    from corral.evals.manifest import weights_sha256

    for config in build_model_configs(settings):
        if config.name != model_id:
            continue
        if isinstance(config, LocalModelConfig):
            return {
                "id": model_id,
                "backend": config.backend,
                "weights_file": config.path.name,
                "weights_sha256": weights_sha256(config.path, home),
                "kv_cache_type": config.kv_cache_type,
                "flash_attention": config.flash_attention,
                "context_length": config.context_length,
            }
        if isinstance(config, RemoteModelConfig):
            return {"id": model_id, "backend": config.backend, "upstream": config.upstream_model}
    # A route, or a model outside the configuration (tests): named, nothing more is known.
    return {"id": model_id}
