"""Wire schemas of `GET /v1/models`, `GET /v1/models/{id}` and `DELETE /v1/models/{id}`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from corral.catalog import ModelEntry
from corral.money import format_micros
from corral.settings import Tier


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    tier: Tier
    licence: str | None
    context_length: int
    pricing: dict[str, str]
    """Currency units per million tokens: {"input": "0.150000", "output": "0.600000"}."""
    digest: str | None = None
    """`sha256:...` over what decides the model's answers: weights, adapter, the settings
    that move its log-probs, or a partner's upstream model (docs/evals.md). Every answer of
    the model carries it in `x-corral-model-digest`."""

    @classmethod
    def of(cls, entry: ModelEntry, prices: tuple[int, int]) -> ModelCard:
        return cls(
            pricing={"input": format_micros(prices[0]), "output": format_micros(prices[1])},
            id=entry.id,
            created=entry.created,
            owned_by=entry.owned_by,
            tier=entry.tier,
            licence=entry.licence,
            context_length=entry.context_length,
            digest=entry.digest,
        )


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ModelDeleted(BaseModel):
    id: str
    object: Literal["model"] = "model"
    deleted: bool = True
