"""A served model's digest: one SHA-256 over everything that decides its answers.

For a local model that is the GGUF's own SHA-256 (its weights, tokenizer and chat template:
corral has no template override, so the file's template is the one used), its adapter's
SHA-256 when it has one, and the settings that move its log-probs (KV cache type, flash
attention, context length). For a model another server runs, it is what corral knows of it:
the backend, the upstream model's name and where it is sent. The digest is published on
`GET /v1/models/{id}` and in the `x-corral-model-digest` header of every answer, and an
evaluation's manifest records it, so a client can check that the model answering is the one a
score belongs to (docs/evals.md).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import platformdirs

from corral.settings import LocalModelConfig, ModelConfig, RemoteModelConfig

HEADER = "x-corral-model-digest"
_CACHE_FILE = "weights_digests.json"


def model_facts(
    config: ModelConfig, home: Path, adapter_sha256: str | None = None
) -> dict[str, Any]:
    """What the digest covers, as a manifest records it."""
    if isinstance(config, LocalModelConfig):
        facts: dict[str, Any] = {
            "id": config.name,
            "backend": config.backend,
            "weights_file": config.path.name,
            "weights_sha256": weights_sha256(config.path, home),
            "kv_cache_type": config.kv_cache_type,
            "flash_attention": config.flash_attention,
            "context_length": config.context_length,
        }
        if adapter_sha256 is not None:
            facts["adapter_sha256"] = adapter_sha256
        return facts
    assert isinstance(config, RemoteModelConfig)
    where = [config.base_url] if config.base_url else [r.base_url for r in config.replicas]
    return {
        "id": config.name,
        "backend": config.backend,
        "upstream": config.upstream_model,
        "base_urls": where,
    }


def digest_of(facts: dict[str, Any]) -> str:
    """`sha256:<hex>` over the facts' canonical JSON, the model's id left out: a model renamed
    in the configuration still answers as before."""
    body = {name: value for name, value in facts.items() if name != "id"}
    data = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(data.encode()).hexdigest()


def weights_sha256(path: Path, home: Path) -> str:
    """SHA-256 of a weights file, computed once per (path, mtime, size) and cached: hashing a
    GGUF of gigabytes at every start would take minutes. The cache is kept in `CORRAL_HOME` and
    in the user's cache folder, so that servers with other homes on one machine (tests,
    replicas) share one computation."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_mtime_ns}|{stat.st_size}"
    shared = Path(platformdirs.user_cache_dir("corral"))
    places = [home / "cache" / _CACHE_FILE, shared / _CACHE_FILE]
    for place in places:
        known = _read(place).get(key)
        if isinstance(known, str):
            return known
    sha = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
    for place in places:
        _remember(place, key, sha.hexdigest())
    return sha.hexdigest()


def _read(place: Path) -> dict[str, Any]:
    try:
        cache = json.loads(place.read_text())
    except (OSError, ValueError):
        return {}
    return cache if isinstance(cache, dict) else {}


def _remember(place: Path, key: str, value: str) -> None:
    """Best effort: a cache that cannot be written only costs the next start a hash."""
    try:
        cache = _read(place)
        cache[key] = value
        place.parent.mkdir(parents=True, exist_ok=True)
        tmp = place.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache, indent=1))
        tmp.replace(place)
    except OSError:
        pass
