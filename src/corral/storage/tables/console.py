"""The web console's sessions and conversations."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Index,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from corral.storage.tables.base import Base, UTCDateTime


class ConsoleSession(Base):
    """A signed-in console browser (`api.console`): the cookie carries a random token, the row
    only its SHA-256, so a copy of the database cannot be used to sign in. The key itself is
    never kept: each request checks `key_id` against the directory, so a revoked key's
    sessions end with it."""

    __tablename__ = "console_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 (hex) of the cookie's token."""
    csrf: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))
    """admin | tenant"""
    key_id: Mapped[str] = mapped_column(String(32), index=True)
    tenant_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    """The absolute end, however busy the session is."""


class ConsoleConversation(Base):
    """A chat of the console's assistant, kept for its tenant (and readable by nobody else)."""

    __tablename__ = "console_conversations"
    __table_args__ = (Index("ix_console_conversations_tenant_updated", "tenant_id", "updated_at"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(128))
    system_prompt: Mapped[str | None] = mapped_column(Text)
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """[{"role": "user" | "assistant", "content": str}] in order."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
