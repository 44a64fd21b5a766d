"""What a manifest says about the model a run called: the facts its digest covers
(`catalog.digest`: for a local model the GGUF's SHA-256 and the settings that move its
log-probs; for a partner or the operator's own servers, the upstream model name; for a
tenant's fine-tuned model, its base's with its adapter's, and its lineage) and the digest
itself, which the server publishes for the model it serves now."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from corral.catalog import build_model_configs
from corral.catalog.digest import digest_of
from corral.catalog.digest import model_facts as served_facts
from corral.errors import NotFound
from corral.files.store import FileStore
from corral.finetune.models import FineTunedModels
from corral.jobs import JobQueue
from corral.settings import LocalModelConfig, Settings


def model_facts(settings: Settings, model_id: str, home: Path) -> dict[str, Any]:
    for config in build_model_configs(settings):
        if config.name == model_id:
            facts = served_facts(config, home)
            return {**facts, "digest": digest_of(facts)}
    # A route, or a model outside the configuration (tests): named, nothing more is known.
    return {"id": model_id}


async def fine_tuned_facts(
    settings: Settings,
    home: Path,
    models: FineTunedModels,
    jobs: JobQueue,
    files: FileStore,
    model_id: str,
) -> tuple[dict[str, Any], list[Path]] | None:
    """A tenant's fine-tuned model: its base's facts with its adapter's SHA-256 (the digest
    `/v1/models` serves for it), its lineage (the fine-tuning job and the files it was trained
    on, by SHA-256 as recorded when it was trained), and where those files still are, to check
    the run for contamination against them. None for any other model."""
    found = next((m for m in await models.live() if m.id == model_id), None)
    if found is None:
        return None
    base = next((c for c in build_model_configs(settings) if c.name == found.base_model), None)
    facts: dict[str, Any] = {"id": model_id, "base_model": found.base_model}
    if isinstance(base, LocalModelConfig):
        facts = {**served_facts(base, home, found.adapter_sha256), "id": model_id}
        facts["digest"] = digest_of(facts)
    job = await jobs.get(found.job_id)
    recorded = found.lineage.get("file_sha256") or {}
    training, paths = [], []
    for role in ("training_file", "validation_file"):
        file_id = job.params.get(role)
        if not file_id:
            continue
        training.append({"role": role, "file_id": file_id, "sha256": recorded.get(role)})
        with contextlib.suppress(NotFound):  # deleted since: its digest is still recorded
            paths.append(await files.content(found.tenant_id, file_id))
    facts["lineage"] = {
        "fine_tuning_job": found.job_id,
        "base_model": found.base_model,
        "adapter_sha256": found.adapter_sha256,
        "training_files": training,
    }
    return facts, paths
