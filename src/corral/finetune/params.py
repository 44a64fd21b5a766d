"""A fine-tuning job's parameters as the API receives them and the handler reads them back:
OpenAI's `hyperparameters` (or `method.supervised.hyperparameters`), with "auto" resolved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from corral.errors import InvalidRequest
from corral.finetune.train import Hyperparameters
from corral.settings import EMBEDDED_MODEL_NAME, LocalModelConfig, Settings

KIND = "fine_tuning"
JOB_PREFIX = "ftjob-"
VALIDATING = "validating_files"
DEFAULTS = {"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 1.0}
_LIMITS = {"n_epochs": (1, 50), "batch_size": (1, 256), "learning_rate_multiplier": (1e-4, 100.0)}


def trainable_bases(settings: Settings) -> dict[str, Path]:
    """The models a tenant may fine-tune, by name: those llama.cpp serves from a GGUF here."""
    bases = {
        model.name: model.path
        for model in settings.models
        if isinstance(model, LocalModelConfig) and model.tier != "private"
    }
    if settings.embedded_model and settings.embedded_model_path.is_file():
        bases.setdefault(EMBEDDED_MODEL_NAME, settings.embedded_model_path)
    return bases


def resolve_hyperparameters(
    hyperparameters: dict[str, Any] | None, method: dict[str, Any] | None
) -> dict[str, Any]:
    """Concrete values for each hyperparameter ("auto" or absent: corral's default)."""
    given = dict(hyperparameters or {})
    if method is not None:
        if method.get("type", "supervised") != "supervised":
            raise InvalidRequest(
                "Only the 'supervised' fine-tuning method is supported.", param="method.type"
            )
        nested = (method.get("supervised") or {}).get("hyperparameters") or {}
        given.update(nested)
    resolved: dict[str, Any] = {}
    for name, default in DEFAULTS.items():
        value = given.get(name, "auto")
        if value is None or value == "auto":
            resolved[name] = default
            continue
        low, high = _LIMITS[name]
        kind = float if name == "learning_rate_multiplier" else int
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise InvalidRequest(
                f"'{name}' must be 'auto' or a number from {low} to {high}.",
                param=f"hyperparameters.{name}",
            )
        resolved[name] = kind(value)
    return resolved


def hyperparameters_of(params: dict[str, Any]) -> Hyperparameters:
    values = params["hyperparameters"]
    return Hyperparameters(
        n_epochs=int(values["n_epochs"]),
        batch_size=int(values["batch_size"]),
        learning_rate_multiplier=float(values["learning_rate_multiplier"]),
        seed=int(params["seed"]),
    )


def model_name(base: str, tenant: str, suffix: str | None, job_id: str) -> str:
    """OpenAI's form, `ft:<base>:<organisation>:<suffix>:<id>`."""
    return f"ft:{base}:{tenant}:{suffix or ''}:{job_id.removeprefix(JOB_PREFIX)}"
