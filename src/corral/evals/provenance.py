"""What a manifest says about the model a run called: the facts its digest covers
(`catalog.digest`: for a local model the GGUF's SHA-256 and the settings that move its
log-probs; for a partner or the operator's own servers, the upstream model name) and the
digest itself, which the server publishes for the model it serves now."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from corral.catalog import build_model_configs
from corral.catalog.digest import digest_of
from corral.catalog.digest import model_facts as served_facts
from corral.settings import Settings


def model_facts(settings: Settings, model_id: str, home: Path) -> dict[str, Any]:
    for config in build_model_configs(settings):
        if config.name == model_id:
            facts = served_facts(config, home)
            return {**facts, "digest": digest_of(facts)}
    # A route, or a model outside the configuration (tests): named, nothing more is known.
    return {"id": model_id}
