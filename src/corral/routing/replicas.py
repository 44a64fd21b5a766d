"""Several servers of one model (e.g. vLLM replicas) behind one catalog entry.

Each request draws an order of the replicas by weight (a replica with weight 2 comes first
twice as often as one with weight 1) and runs through the router with that order, so a replica
that fails or whose circuit is open is passed over for the next one, and a stream moves to
another replica only before its first event.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence

from corral.backends import factories
from corral.backends.base import (
    Backend,
    BackendHealth,
    BuiltBackend,
    EmbeddingRequest,
    EmbeddingResult,
    GenerationRequest,
    GenerationResult,
    StreamEvent,
)
from corral.backends.schema_limits import SchemaLimits
from corral.catalog.catalog import ModelEntry
from corral.routing.router import Router
from corral.settings import ModelConfig, RemoteModelConfig, RoutingConfig


def build(
    config: ModelConfig,
    routing: RoutingConfig | None = None,
    schema_limits: SchemaLimits | None = None,
) -> BuiltBackend:
    """A model's backend: one per replica server behind a weighted `ReplicaSet` when the config
    lists replicas, else the one its factory builds."""
    if not (isinstance(config, RemoteModelConfig) and config.replicas):
        return factories.build(config, schema_limits)
    # Imported here, as the factories do: only a model with replicas needs the OpenAI client.
    from corral.backends.openai_api import build_for_url

    built = [(r.base_url, build_for_url(config, r.base_url), r.weight) for r in config.replicas]
    replicas = [(url, b.backend, weight) for url, b, weight in built]
    replica_set = ReplicaSet(config.name, replicas, routing or RoutingConfig())
    return BuiltBackend(replica_set, built[0][1].context_length)


class ReplicaSet:
    """A `Backend` made of several backends serving the same model."""

    def __init__(
        self,
        name: str,
        replicas: Sequence[tuple[str, Backend, int]],
        routing: RoutingConfig,
        rng: random.Random | None = None,
    ) -> None:
        """`replicas`: (where, backend, weight) for each server."""
        self._entries = [_entry(f"{name}@{where}", backend) for where, backend, _ in replicas]
        self._weights = [weight for _, _, weight in replicas]
        self._router = Router(routing)
        self._rng = rng or random.Random()

    def order(self) -> list[ModelEntry]:
        """The replicas in the order this request tries them: drawn by weight, no repeats."""
        pool = list(zip(self._entries, self._weights, strict=True))
        ordered = []
        while pool:
            pick = self._rng.choices(range(len(pool)), weights=[w for _, w in pool])[0]
            ordered.append(pool.pop(pick)[0])
        return ordered

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        _, result = await self._router.generate(self.order(), request)
        return result

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        _, events = await self._router.stream(self.order(), request)
        return events

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResult:
        _, result = await self._router.embed(self.order(), request)
        return result

    async def count_prompt_tokens(self, request: GenerationRequest) -> int:
        return await self._entries[0].backend.count_prompt_tokens(request)

    def health(self) -> BackendHealth:
        states = [self._router.breaker(e.id).state for e in self._entries]
        up = states.count("closed")
        return BackendHealth(up > 0, f"{up} of {len(states)} replicas available")

    async def start(self) -> None:
        for entry in self._entries:
            await entry.backend.start()

    async def close(self) -> None:
        for entry in self._entries:
            await entry.backend.close()


def _entry(name: str, backend: Backend) -> ModelEntry:
    return ModelEntry(
        id=name,
        tier="open",
        licence=None,
        context_length=0,
        created=0,
        owned_by="corral",
        backend=backend,
    )
