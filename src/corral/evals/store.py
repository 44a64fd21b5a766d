"""Evals and their graded items in the database. Runs are jobs (`corral.jobs`, kind
`eval_run`); an item's grades are written in the checkpoint that finishes it (`item_write`).

Every read names the owner (a tenant's id, or "admin"): another's eval is "not found".
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from corral.errors import NotFound
from corral.jobs.store import Write
from corral.storage import Database
from corral.storage.tables import EvalDefinition, EvalOutputItem, UsageRecord


@dataclass(frozen=True, slots=True)
class EvalRecord:
    id: str
    owner: str
    name: str
    data_source_config: dict[str, Any]
    testing_criteria: list[dict[str, Any]]
    metadata: dict[str, Any] | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class OutputItem:
    id: str
    run_id: str
    index: int
    status: str
    datasource_item: dict[str, Any]
    results: list[dict[str, Any]]
    sample: dict[str, Any] | None
    created_at: dt.datetime


def eval_not_found(eval_id: str) -> NotFound:
    return NotFound(f"Eval with id '{eval_id}' not found.", param="eval_id")


class EvalStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        owner: str,
        name: str,
        data_source_config: dict[str, Any],
        testing_criteria: list[dict[str, Any]],
        metadata: dict[str, Any] | None,
    ) -> EvalRecord:
        record = EvalRecord(
            "eval_" + secrets.token_hex(12),
            owner,
            name,
            data_source_config,
            testing_criteria,
            metadata,
            dt.datetime.now(dt.UTC).replace(microsecond=0),
        )
        await self._db.run(self._insert, record)
        return record

    def _insert(self, r: EvalRecord) -> None:
        with self._db.write() as session:
            session.add(
                EvalDefinition(
                    id=r.id,
                    tenant_id=r.owner,
                    name=r.name,
                    data_source_config=r.data_source_config,
                    testing_criteria=r.testing_criteria,
                    meta=r.metadata,
                    created_at=r.created_at,
                )
            )

    async def get(self, owner: str | None, eval_id: str) -> EvalRecord:
        record = await self._db.run(self._get, eval_id)
        if record is None or (owner is not None and record.owner != owner):
            raise eval_not_found(eval_id)
        return record

    def _get(self, eval_id: str) -> EvalRecord | None:
        with self._db.read() as session:
            row = session.get(EvalDefinition, eval_id)
            return None if row is None else _record(row)

    async def list_evals(self, owner: str | None, limit: int = 20) -> list[EvalRecord]:
        return await self._db.run(self._list, owner, limit)

    def _list(self, owner: str | None, limit: int) -> list[EvalRecord]:
        query = select(EvalDefinition)
        if owner is not None:
            query = query.where(EvalDefinition.tenant_id == owner)
        query = query.order_by(EvalDefinition.created_at.desc(), EvalDefinition.id.desc())
        with self._db.read() as session:
            return [_record(row) for row in session.scalars(query.limit(limit))]

    async def items(self, run_id: str, after: int = -1, limit: int = 100) -> list[OutputItem]:
        """The run's graded items in dataset order, from after index `after`."""
        return await self._db.run(self._items, run_id, after, limit)

    def _items(self, run_id: str, after: int, limit: int) -> list[OutputItem]:
        query = (
            select(EvalOutputItem)
            .where(EvalOutputItem.run_id == run_id, EvalOutputItem.item_index > after)
            .order_by(EvalOutputItem.item_index)
            .limit(limit)
        )
        with self._db.read() as session:
            return [_item(row) for row in session.scalars(query)]

    async def all_items(self, run_id: str) -> list[OutputItem]:
        return await self.items(run_id, -1, 1 << 30)

    async def billed(self, request_ids: list[str]) -> frozenset[str]:
        """Which of these request ids the ledger has a usage record of."""
        return await self._db.run(self._billed, request_ids)

    def _billed(self, request_ids: list[str]) -> frozenset[str]:
        query = select(UsageRecord.request_id).where(UsageRecord.request_id.in_(request_ids))
        with self._db.read() as session:
            return frozenset(session.scalars(query))


def item_write(item: OutputItem) -> Write:
    """The row of a graded item, for its checkpoint's transaction."""

    def write(session: Session) -> None:
        session.add(
            EvalOutputItem(
                run_id=item.run_id,
                item_index=item.index,
                id=item.id,
                status=item.status,
                datasource_item=item.datasource_item,
                results=item.results,
                sample=item.sample,
                created_at=item.created_at,
            )
        )

    return write


def _record(row: EvalDefinition) -> EvalRecord:
    return EvalRecord(
        row.id,
        row.tenant_id,
        row.name,
        row.data_source_config,
        row.testing_criteria,
        row.meta,
        row.created_at,
    )


def _item(row: EvalOutputItem) -> OutputItem:
    return OutputItem(
        row.id,
        row.run_id,
        row.item_index,
        row.status,
        row.datasource_item,
        row.results,
        row.sample,
        row.created_at,
    )
