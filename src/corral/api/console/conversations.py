"""The chat assistant's conversations, kept per tenant: every read and write names the tenant,
so one tenant's conversation id is, to any other, a conversation that does not exist."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select

from corral.clock import now
from corral.errors import NotFound
from corral.storage import Database
from corral.storage.tables import ConsoleConversation

_TITLE_CHARS = 60
_LIST_LIMIT = 50


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    title: str
    model: str
    system_prompt: str | None
    messages: list[dict[str, Any]] = field(default_factory=list)
    updated_at: dt.datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "model": self.model,
            "system_prompt": self.system_prompt,
            "messages": self.messages,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


def _of(row: ConsoleConversation) -> Conversation:
    return Conversation(
        row.id, row.title, row.model, row.system_prompt, list(row.messages), row.updated_at
    )


class Conversations:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, tenant_id: str, model: str, system_prompt: str | None) -> Conversation:
        return await self._db.run(self._create, tenant_id, model, system_prompt)

    def _create(self, tenant_id: str, model: str, system_prompt: str | None) -> Conversation:
        moment = now()
        row = ConsoleConversation(
            id="conv_" + secrets.token_hex(12),
            tenant_id=tenant_id,
            title="New conversation",
            model=model,
            system_prompt=system_prompt or None,
            messages=[],
            created_at=moment,
            updated_at=moment,
        )
        with self._db.write() as session:
            session.add(row)
        return _of(row)

    async def recent(self, tenant_id: str) -> list[Conversation]:
        return await self._db.run(self._list, tenant_id)

    def _list(self, tenant_id: str) -> list[Conversation]:
        query = (
            select(ConsoleConversation)
            .where(ConsoleConversation.tenant_id == tenant_id)
            .order_by(ConsoleConversation.updated_at.desc())
            .limit(_LIST_LIMIT)
        )
        with self._db.read() as session:
            return [_of(row) for row in session.scalars(query)]

    async def get(self, tenant_id: str, conversation_id: str) -> Conversation:
        return await self._db.run(self._get, tenant_id, conversation_id)

    def _get(self, tenant_id: str, conversation_id: str) -> Conversation:
        with self._db.read() as session:
            return _of(_owned(session.get(ConsoleConversation, conversation_id), tenant_id))

    async def append(
        self, tenant_id: str, conversation_id: str, message: dict[str, Any], model: str
    ) -> None:
        """Add a turn; the first user turn names the conversation."""
        await self._db.run(self._append, tenant_id, conversation_id, message, model)

    def _append(
        self, tenant_id: str, conversation_id: str, message: dict[str, Any], model: str
    ) -> None:
        with self._db.write() as session:
            row = _owned(session.get(ConsoleConversation, conversation_id), tenant_id)
            if not row.messages and message["role"] == "user":
                row.title = " ".join(message["content"].split())[:_TITLE_CHARS] or row.title
            row.messages = [*row.messages, message]  # a new list: JSON columns track assignment
            row.model = model
            row.updated_at = now()

    async def delete(self, tenant_id: str, conversation_id: str) -> None:
        await self._db.run(self._delete, tenant_id, conversation_id)

    def _delete(self, tenant_id: str, conversation_id: str) -> None:
        with self._db.write() as session:
            _owned(session.get(ConsoleConversation, conversation_id), tenant_id)
            session.execute(
                delete(ConsoleConversation).where(ConsoleConversation.id == conversation_id)
            )


def _owned(row: ConsoleConversation | None, tenant_id: str) -> ConsoleConversation:
    if row is None or row.tenant_id != tenant_id:
        raise NotFound("No such conversation.", param="conversation_id")
    return row
