"""`Idempotency-Key`: a retried request is run and billed once, and answered like the first.

The first request with a key claims it (a `running` row, unique per tenant and key). When it
ends with an answer, the answer is stored (`done`) and later requests with the key get it back
verbatim for 24 hours. A request that fails without an answer gives the key back, so the retry
runs. A claim left by a crashed process can be taken over once it has expired.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from corral.errors import Conflict, InvalidRequest
from corral.storage import Database
from corral.storage.tables import IdempotencyRecord

MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    content_type: str
    body: bytes


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"%s %s\n%s" % (method.encode(), path.encode(), body)).hexdigest()


class IdempotencyStore:
    def __init__(self, db: Database, ttl_h: int = 24, claim_timeout_s: int = 900) -> None:
        self._db = db
        self._ttl = dt.timedelta(hours=ttl_h)
        self._claim_timeout = dt.timedelta(seconds=claim_timeout_s)

    def claim(self, owner: str, key: str, digest: str) -> StoredResponse | None:
        """Claim `key` for a new run (None), or return the answer of the run that had it."""
        if not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidRequest(
                f"The Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} characters.",
                param="Idempotency-Key",
            )
        now = dt.datetime.now(dt.UTC)
        try:
            with self._db.write() as session:
                session.execute(
                    delete(IdempotencyRecord).where(
                        IdempotencyRecord.owner == owner,
                        IdempotencyRecord.key == key,
                        IdempotencyRecord.expires_at < now,
                    )
                )
                session.add(
                    IdempotencyRecord(
                        owner=owner,
                        key=key,
                        request_hash=digest,
                        state="running",
                        created_at=now,
                        expires_at=now + self._claim_timeout,
                    )
                )
            return None
        except IntegrityError:
            pass
        with self._db.read() as session:
            row = session.get(IdempotencyRecord, (owner, key))
        if row is None:  # expired and removed between our two looks
            return self.claim(owner, key, digest)
        if row.request_hash != digest:
            raise InvalidRequest(
                "This Idempotency-Key was already used with a different request; use a new key "
                "for a new request.",
                param="Idempotency-Key",
                code="idempotency_key_reused",
            )
        if row.state != "done" or row.body is None or row.status_code is None:
            raise Conflict(
                "A request with this Idempotency-Key is still running; retry when it has ended.",
                param="Idempotency-Key",
                code="idempotency_key_in_use",
            )
        return StoredResponse(row.status_code, row.content_type or "application/json", row.body)

    def complete(self, owner: str, key: str, response: StoredResponse) -> None:
        now = dt.datetime.now(dt.UTC)
        with self._db.write() as session:
            session.execute(
                update(IdempotencyRecord)
                .where(IdempotencyRecord.owner == owner, IdempotencyRecord.key == key)
                .values(
                    state="done",
                    status_code=response.status_code,
                    content_type=response.content_type,
                    body=response.body,
                    expires_at=now + self._ttl,
                )
            )

    def release(self, owner: str, key: str) -> None:
        with self._db.write() as session:
            session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.owner == owner,
                    IdempotencyRecord.key == key,
                    IdempotencyRecord.state == "running",
                )
            )

    def sweep_expired(self) -> None:
        with self._db.write() as session:
            session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.expires_at < dt.datetime.now(dt.UTC)
                )
            )
