"""Exposure: which providers have received a dataset's items.

An eval run against a partner model sends every item to that partner, which may keep it: from
then on the partner's models may have trained on the set, and their later scores on it mean
less. So each dataset's exposure is the list of providers its finished runs sent items to,
with how many items, in how many runs, and when first and last; a run's manifest records the
exposure up to and including itself. Local models and the operator's own servers
(`openai-compatible`) are not third parties and do not count.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from corral.evals.leaderboard import manifest_of
from corral.jobs import Job

THIRD_PARTIES = frozenset({"openai", "anthropic", "gemini"})
"""Backends that send to another company (`settings.RemoteBackend` less the operator's own)."""


def exposure(runs: Iterable[Job], dataset: str) -> list[dict[str, Any]]:
    """Per provider and upstream model: the items of `dataset` sent, in how many runs, when."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for job in runs:
        manifest = manifest_of(job)
        if manifest is None or (manifest.get("dataset") or {}).get("sha256") != dataset:
            continue
        entry = sent(manifest)
        if entry is None:
            continue
        key = (entry["provider"], entry["upstream"])
        known = seen.setdefault(key, {**entry, "items": 0, "runs": 0, "first": None, "last": None})
        known["items"] += entry["items"]
        known["runs"] += 1
        when = manifest.get("signed_at")
        known["first"] = min(filter(None, (known["first"], when)), default=None)
        known["last"] = max(filter(None, (known["last"], when)), default=None)
    return sorted(seen.values(), key=lambda e: (e["provider"], e["upstream"]))


def sent(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """What one run sent to a third party: provider, upstream model, items; None if nothing."""
    model = manifest.get("model") or {}
    if model.get("backend") not in THIRD_PARTIES:
        return None
    items = sum(1 for item in manifest.get("items") or () if item.get("status") != "error")
    return {"provider": model["backend"], "upstream": model.get("upstream", ""), "items": items}
