"""The console's server-side sessions: a random token in an HttpOnly cookie, its SHA-256 in
the database with the CSRF token, the key's id (never the key), an idle and an absolute end."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete

from corral.clock import now
from corral.settings import ConsoleConfig
from corral.storage import Database
from corral.storage.tables import ConsoleSession

_TOUCH_EVERY = dt.timedelta(seconds=15)
"""`last_seen_at` is written at most this often: a page load is a read, not a write."""


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: str
    csrf: str
    kind: str
    key_id: str
    tenant_id: str | None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    def __init__(self, db: Database, config: ConsoleConfig) -> None:
        self._db = db
        self._idle = dt.timedelta(seconds=config.idle_timeout_s)
        self._absolute = dt.timedelta(seconds=config.absolute_timeout_s)

    async def open(self, kind: str, key_id: str, tenant_id: str | None) -> tuple[str, SessionInfo]:
        """A new session: the cookie's token (shown to nobody else) and the session."""
        token = secrets.token_urlsafe(32)
        info = SessionInfo(_digest(token), secrets.token_urlsafe(32), kind, key_id, tenant_id)
        await self._db.run(self._insert, info)
        return token, info

    def _insert(self, info: SessionInfo) -> None:
        moment = now()
        with self._db.write() as session:
            # Ended sessions go when new ones begin: the table never grows without bound.
            session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= moment))
            session.execute(
                delete(ConsoleSession).where(ConsoleSession.last_seen_at <= moment - self._idle)
            )
            session.add(
                ConsoleSession(
                    id=info.id,
                    csrf=info.csrf,
                    kind=info.kind,
                    key_id=info.key_id,
                    tenant_id=info.tenant_id,
                    created_at=moment,
                    last_seen_at=moment,
                    expires_at=moment + self._absolute,
                )
            )

    async def find(self, token: str) -> SessionInfo | None:
        """The live session of a cookie's token; None once it has ended (idle or absolute)."""
        return await self._db.run(self._find, _digest(token))

    def _find(self, digest: str) -> SessionInfo | None:
        moment = now()
        with self._db.read() as session:
            row = session.get(ConsoleSession, digest)
            if row is None:
                return None
            info = SessionInfo(row.id, row.csrf, row.kind, row.key_id, row.tenant_id)
            ended = row.expires_at <= moment or row.last_seen_at <= moment - self._idle
            stale = row.last_seen_at <= moment - _TOUCH_EVERY
        if ended:
            self._end(digest)
            return None
        if stale:
            with self._db.write() as session:
                row = session.get(ConsoleSession, digest)
                if row is not None:
                    row.last_seen_at = moment
        return info

    async def end(self, session_id: str) -> None:
        await self._db.run(self._end, session_id)

    def _end(self, session_id: str) -> None:
        with self._db.write() as session:
            session.execute(delete(ConsoleSession).where(ConsoleSession.id == session_id))

    async def end_for_key(self, key_id: str) -> None:
        """Every session signed in with `key_id` (its key was revoked)."""
        await self._db.run(self._end_for_key, key_id)

    def _end_for_key(self, key_id: str) -> None:
        with self._db.write() as session:
            session.execute(delete(ConsoleSession).where(ConsoleSession.key_id == key_id))
