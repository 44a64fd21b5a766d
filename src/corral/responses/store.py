"""Stored responses: saved per tenant, read back, chained, deleted."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from corral.errors import InvalidRequest, NotFound
from corral.responses.items import Item
from corral.storage import Database
from corral.storage.tables import StoredResponse

MAX_CHAIN = 256
"""How many responses back `previous_response_id` may reach (each adds to the prompt anyway)."""


@dataclass(frozen=True, slots=True)
class Stored:
    response: dict[str, Any]
    input_items: list[Item]
    previous_id: str | None


def not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{response_id}' not found.", param="response_id")


class ResponseStore:
    """Every read and write names the owner (a tenant, or "admin"): nobody sees another's."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def save(self, tenant_id: str, response: dict[str, Any], inputs: list[Item]) -> None:
        row = StoredResponse(
            id=response["id"],
            tenant_id=tenant_id,
            previous_id=response.get("previous_response_id"),
            created_at=dt.datetime.fromtimestamp(response["created_at"], dt.UTC),
            response=response,
            input_items=inputs,
        )
        await self._db.run(self._insert, row)

    def _insert(self, row: StoredResponse) -> None:
        with self._db.write() as session:
            session.add(row)

    async def get(self, tenant_id: str, response_id: str) -> Stored:
        stored = await self._db.run(self._get, tenant_id, response_id)
        if stored is None:
            raise not_found(response_id)
        return stored

    def _get(self, tenant_id: str, response_id: str) -> Stored | None:
        with self._db.read() as session:
            row = session.execute(
                select(StoredResponse).where(
                    StoredResponse.id == response_id, StoredResponse.tenant_id == tenant_id
                )
            ).scalar_one_or_none()
            if row is None:
                return None
            return Stored(row.response, row.input_items, row.previous_id)

    async def input_items(
        self, tenant_id: str, response_id: str, limit: int, order: str, after: str | None
    ) -> tuple[list[Item], bool]:
        """A page of the response's input items (`order` "asc" or "desc", after the item
        `after`), and whether more follow."""
        listed = (await self.get(tenant_id, response_id)).input_items
        if order == "desc":
            listed = listed[::-1]
        if after is not None:
            ids = [item["id"] for item in listed]
            listed = listed[ids.index(after) + 1 :] if after in ids else []
        return listed[:limit], len(listed) > limit

    async def delete(self, tenant_id: str, response_id: str) -> None:
        if not await self._db.run(self._delete, tenant_id, response_id):
            raise not_found(response_id)

    def _delete(self, tenant_id: str, response_id: str) -> bool:
        with self._db.write() as session:
            deleted = session.execute(
                delete(StoredResponse).where(
                    StoredResponse.id == response_id, StoredResponse.tenant_id == tenant_id
                )
            )
            return bool(deleted.rowcount)  # type: ignore[attr-defined]

    async def history(self, tenant_id: str, response_id: str) -> list[Item]:
        """The conversation up to and including `response_id`: each stored response's input
        items and output, oldest first."""
        return await self._db.run(self._history, tenant_id, response_id)

    def _history(self, tenant_id: str, response_id: str) -> list[Item]:
        turns: list[list[Item]] = []
        next_id: str | None = response_id
        while next_id is not None:
            if len(turns) == MAX_CHAIN:
                raise InvalidRequest(
                    f"Response '{response_id}' continues a chain of more than {MAX_CHAIN} "
                    "responses; start a new conversation with the history as input.",
                    param="previous_response_id",
                )
            stored = self._get(tenant_id, next_id)
            if stored is None:
                raise NotFound(
                    f"Previous response with id '{next_id}' not found.",
                    param="previous_response_id",
                )
            turns.append(stored.input_items + stored.response["output"])
            next_id = stored.previous_id
        return [item for turn in reversed(turns) for item in turn]
