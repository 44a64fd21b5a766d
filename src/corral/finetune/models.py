"""Tenants' fine-tuned models: recorded when their job publishes them, served on the shared
base model (an `AdapterBackend` over the base's llama.cpp backend: no second copy of the base),
listed and usable only by their owner (tier `private`), deleted by their owner.

The catalog reads them through `FineTunedModels.entries` (its `loader`): on a miss of an `ft:`
name, on each model list, and every few seconds in a server, so a model published by a worker
elsewhere is served here within that time, and a deleted one is gone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from corral.catalog.catalog import Catalog, ModelEntry, Prices, model_not_found
from corral.catalog.digest import digest_of, model_facts
from corral.errors import PermissionDenied
from corral.settings import LocalModelConfig
from corral.storage import Database
from corral.storage.tables import FineTunedModel, Tenant

if TYPE_CHECKING:
    from corral.backends.llama_cpp.adapters import AdapterBackend


@dataclass(frozen=True, slots=True)
class FineTuned:
    id: str
    tenant_id: str
    owner: str
    """The tenant's name (what a private model's `owner` is)."""
    job_id: str
    base_model: str
    adapter: Path
    adapter_sha256: str
    lineage: dict[str, Any]
    created_at: dt.datetime


def record(session: Session, job_id: str, tenant_id: str, result: dict[str, Any]) -> None:
    """Add the model a job made (in its final checkpoint's transaction); once per job."""
    existing = session.scalar(select(FineTunedModel.id).where(FineTunedModel.job_id == job_id))
    if existing is not None:
        return
    lineage = result["lineage"]
    session.add(
        FineTunedModel(
            id=result["fine_tuned_model"],
            tenant_id=tenant_id,
            job_id=job_id,
            base_model=lineage["base_model"],
            adapter_path=result["adapter_gguf"],
            adapter_sha256=result["adapter_sha256"],
            lineage=lineage,
            created_at=dt.datetime.now(dt.UTC),
        )
    )


class FineTunedModels:
    def __init__(self, db: Database, prices: Prices, home: Path) -> None:
        """`prices`: what a fine-tuned model costs per million (prompt, completion) tokens, in
        micro-units (`[finetuning]`)."""
        self._db = db
        self._prices = prices
        self._home = home
        self._backends: dict[str, tuple[AdapterBackend, str | None]] = {}
        """Each served model's backend and digest, made once."""

    async def live(self) -> list[FineTuned]:
        return await self._db.run(self._live, None)

    def _live(self, model_id: str | None) -> list[FineTuned]:
        query = (
            select(FineTunedModel, Tenant.name)
            .join(Tenant, Tenant.id == FineTunedModel.tenant_id)
            .where(FineTunedModel.deleted_at.is_(None))
            .order_by(FineTunedModel.created_at)
        )
        if model_id is not None:
            query = query.where(FineTunedModel.id == model_id)
        with self._db.read() as session:
            return [_to_model(row, name) for row, name in session.execute(query)]

    def loader(self, catalog: Catalog) -> Any:
        """The catalog's `loader`: the live models as entries over their bases' backends."""

        async def entries() -> list[ModelEntry]:
            models = await self.live()
            live = {model.id for model in models}
            self._backends = {k: v for k, v in self._backends.items() if k in live}
            return [entry for model in models if (entry := self._entry(catalog, model))]

        return entries

    def _entry(self, catalog: Catalog, model: FineTuned) -> ModelEntry | None:
        base = next((e for e in catalog.configured() if e.id == model.base_model), None)
        if base is None or base.kind != "llama-cpp":  # its base is no longer served here
            return None
        known = self._backends.get(model.id)
        if known is None or known[0].base is not base.backend:
            # Here, not at the top: a server without fine-tuned models never loads llama.cpp
            # for them (a worker serving remote models only spares its ~25 MB).
            from corral.backends.llama_cpp.adapters import AdapterBackend

            backend = AdapterBackend(base.backend, model.adapter, model.id)
            known = self._backends[model.id] = (backend, _digest(base, model, self._home))
        backend, digest = known
        return ModelEntry(
            id=model.id,
            tier="private",
            licence=base.licence,  # the base's licence binds its derivative
            context_length=base.context_length,
            created=int(model.created_at.timestamp()),
            owned_by=model.owner,
            backend=backend,
            prices=self._prices,
            owner=model.owner,
            kind=base.kind,
            digest=digest,
        )

    async def delete(self, model_id: str, tenant_id: str | None) -> FineTuned:
        """Delete a fine-tuned model of `tenant_id` (None: the operator, any tenant's): no
        longer listed nor served; its row stays, with its lineage, for audits."""
        return await self._db.run(self._delete, model_id, tenant_id)

    def _delete(self, model_id: str, tenant_id: str | None) -> FineTuned:
        found = self._live(model_id)
        if not found or (tenant_id is not None and found[0].tenant_id != tenant_id):
            raise model_not_found(model_id)
        with self._db.write() as session:
            session.execute(
                update(FineTunedModel)
                .where(FineTunedModel.id == model_id)
                .values(deleted_at=dt.datetime.now(dt.UTC))
            )
        found[0].adapter.unlink(missing_ok=True)
        return found[0]


def not_deletable(model_id: str) -> PermissionDenied:
    return PermissionDenied(
        f"The model '{model_id}' is not a fine-tuned model of yours; only those can be deleted.",
        param="model",
        code="model_not_deletable",
    )


def _digest(base: ModelEntry, model: FineTuned, home: Path) -> str | None:
    """The base's digest facts with the adapter's SHA-256 (`catalog.digest`)."""
    config = getattr(base.backend, "config", None)
    if not isinstance(config, LocalModelConfig):
        return None
    return digest_of(model_facts(config, home, model.adapter_sha256))


def _to_model(row: FineTunedModel, owner: str) -> FineTuned:
    return FineTuned(
        id=row.id,
        tenant_id=row.tenant_id,
        owner=owner,
        job_id=row.job_id,
        base_model=row.base_model,
        adapter=Path(row.adapter_path),
        adapter_sha256=row.adapter_sha256,
        lineage=row.lineage,
        created_at=row.created_at,
    )
