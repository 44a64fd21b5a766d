"""Model entries, the lookup that turns a request's `model` into a served model, and the one
lookup of what a model costs now (`PriceList`)."""

from __future__ import annotations

import operator
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields

from corral.backends.base import Backend
from corral.catalog import added_models
from corral.errors import ConfigError, ModelNotFound
from corral.money import to_micros
from corral.settings import EMBEDDED_MODEL_NAME, LocalModelConfig, ModelConfig, Settings, Tier

ADDED_PREFIX = "ft:"
"""The names of models made at run time (OpenAI's form for fine-tuned models)."""
Prices = tuple[int, int]
"""Micro-units per million (prompt, completion) tokens."""


@dataclass(frozen=True, slots=True)
class ModelEntry:
    id: str
    tier: Tier
    licence: str | None
    context_length: int
    created: int
    owned_by: str
    backend: Backend
    prices: Prices = (0, 0)
    """From the config file; what the model costs now is `PriceList.of`'s answer."""
    cached_price: int | None = None
    """Micro-units per million prompt tokens served from its prefix cache; None: the input
    price (`money.cost_micros`)."""
    owner: str | None = None
    """The tenant a private model belongs to."""
    kind: str = "llama-cpp"
    """Which kind of backend serves it (`backend = ...` in the config)."""
    digest: str | None = None
    """`sha256:...` over what decides its answers (`catalog.digest`); None when unknown."""


_ENTRY_FIELDS = [f.name for f in fields(ModelEntry)]
_ENTRY_VALUES = operator.attrgetter(*_ENTRY_FIELDS)
_BACKEND_AT = _ENTRY_FIELDS.index("backend")


def with_backend(entry: ModelEntry, backend: Backend) -> ModelEntry:
    """`dataclasses.replace(entry, backend=backend)` in a third of its time: the privacy guard
    makes one per partner request."""
    values = list(_ENTRY_VALUES(entry))
    values[_BACKEND_AT] = backend
    return ModelEntry(*values)


class Catalog:
    def __init__(
        self, entries: Iterable[ModelEntry], routes: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        self._entries = {entry.id: entry for entry in entries}
        self._routes: dict[str, tuple[ModelEntry, ...]] = {}
        for name, members in (routes or {}).items():
            if name in self._entries:
                raise ConfigError(f"route '{name}' has the name of a model; rename one of them")
            unknown = [m for m in members if m not in self._entries]
            if unknown:
                raise ConfigError(f"route '{name}' names unknown models: {', '.join(unknown)}")
            self._routes[name] = tuple(self._entries[m] for m in members)
        self._added: dict[str, ModelEntry] = {}
        self.loader: Callable[[], Awaitable[list[ModelEntry]]] | None = None
        """Reads the models made at run time (tenants' fine-tuned models), set by the
        composition root; `refresh` calls it."""

    async def refresh(self, model_id: str | None = None) -> None:
        """Read the models made at run time again (all, or only if `model_id` is one of them
        and not known yet). A configured model's name always wins over one of them."""
        if self.loader is None:
            return
        if model_id is not None and (model_id in self or not model_id.startswith(ADDED_PREFIX)):
            return
        added = await self.loader()
        self._added = {entry.id: entry for entry in added if entry.id not in self._entries}

    def is_added(self, model_id: str) -> bool:
        """Whether the model was made at run time (a fine-tuned model), not configured."""
        return model_id in self._added

    def __contains__(self, model_id: str) -> bool:
        return model_id in self._entries or model_id in self._added

    def candidates(self, name: str) -> tuple[ModelEntry, ...]:
        """The models behind a name: a route's, in order, or the one model of that name."""
        route = self._routes.get(name)
        return route if route is not None else (self.get(name),)

    def is_route(self, name: str) -> bool:
        return name in self._routes

    def get(self, model_id: str) -> ModelEntry:
        entry = self._entries.get(model_id) or self._added.get(model_id)
        if entry is None:
            raise model_not_found(model_id)
        return entry

    def entries(self) -> list[ModelEntry]:
        """Every model: the configured ones, then those made at run time."""
        return [*self._entries.values(), *self._added.values()]

    def configured(self) -> list[ModelEntry]:
        """The models of the configuration alone (whose backends the server starts and closes)."""
        return list(self._entries.values())


class PriceList:
    """What each model costs now: the operator's override (`accounts.prices`, read through the
    account directory's cache), else the config file's price. Every price the request path
    bills or shows is looked up here."""

    def __init__(self, overrides: Callable[[], Awaitable[Mapping[str, Prices]]]) -> None:
        self._overrides = overrides

    async def of(self, model: ModelEntry) -> Prices:
        return (await self._overrides()).get(model.id, model.prices)

    async def dearest(self, models: Iterable[ModelEntry]) -> Prices:
        """The highest input and output prices among `models` (possibly from two of them)."""
        overrides = await self._overrides()
        prices = [overrides.get(m.id, m.prices) for m in models]
        return (max(p[0] for p in prices), max(p[1] for p in prices))


def build_model_configs(settings: Settings) -> list[ModelConfig]:
    """All models: the embedded default, then registered ones, then the config file's.

    A later source replaces an earlier entry of the same name, so an operator can re-point or
    re-tune the embedded model in the config file.
    """
    configs: dict[str, ModelConfig] = {}
    embedded = settings.embedded_model_path
    if settings.embedded_model and embedded.is_file():
        configs[EMBEDDED_MODEL_NAME] = LocalModelConfig(
            name=EMBEDDED_MODEL_NAME, path=embedded, tier="open", licence="apache-2.0"
        )
    for config in [*added_models.load(settings.home), *settings.models]:
        configs[config.name] = config
    return list(configs.values())


def entry_for(
    config: ModelConfig, backend: Backend, context_length: int, digest: str | None = None
) -> ModelEntry:
    return ModelEntry(
        id=config.name,
        tier=config.tier,
        licence=config.licence,
        context_length=context_length,
        created=_created(config),
        owned_by=config.owner or "corral",
        backend=backend,
        prices=(to_micros(config.input_price_per_mtok), to_micros(config.output_price_per_mtok)),
        cached_price=_cached_price(config),
        owner=config.owner,
        kind=config.backend,
        digest=digest,
    )


def _cached_price(config: ModelConfig) -> int | None:
    cached = config.cached_input_price_per_mtok
    return None if cached is None else to_micros(cached)


def _created(config: ModelConfig) -> int:
    if isinstance(config, LocalModelConfig) and config.path.exists():
        return int(config.path.stat().st_mtime)
    return int(time.time())


def model_not_found(model_id: str) -> ModelNotFound:
    return ModelNotFound(
        f"The model '{model_id}' does not exist or you do not have access to it. "
        "GET /v1/models lists the models you can use.",
        param="model",
    )
