"""`Idempotency-Key`: a retried request is run and billed once, and answered like the first.

The first request with a key claims it (a `running` row, unique per tenant and key). When it
ends with an answer, the answer is stored (`done`) and later requests with the key get it back
verbatim for 24 hours. A request that fails without an answer gives the key back, so the retry
runs. A claim names its process's lease (`leases.ProcessLease`): one left by a process that
died can be taken over once that lease has expired (seconds), or at the latest once the claim
itself has (`claim_timeout_s`).

Stored answers are bounded (`AnswerLimits`): one larger than an answer may be, or than what is
left of its tenant's room, is not kept (`unstored`): the key stays used, since the request ran
and was billed, and a retry is told that its answer cannot be replayed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from corral.errors import Conflict, InvalidRequest
from corral.metering.leases import ProcessLease
from corral.storage import Database
from corral.storage.tables import IdempotencyRecord
from corral.storage.tables import ProcessLease as ProcessLeaseRow

MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class AnswerLimits:
    """Bytes of stored answers: of one, and of all of one tenant's together."""

    per_answer: int = 1024 * 1024
    per_owner: int = 64 * 1024 * 1024


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"%s %s\n%s" % (method.encode(), path.encode(), body)).hexdigest()


class IdempotencyStore:
    def __init__(
        self,
        db: Database,
        ttl_h: int = 24,
        claim_timeout_s: int = 900,
        limits: AnswerLimits = AnswerLimits(),
        lease: ProcessLease | None = None,
    ) -> None:
        self._db = db
        self._limits = limits
        self._lease = lease
        self._ttl = dt.timedelta(hours=ttl_h)
        self._claim_timeout = dt.timedelta(seconds=claim_timeout_s)

    def claim(self, owner: str, key: str, digest: str) -> StoredResponse | None:
        """Claim `key` for a new run (None), or return the answer of the run that had it."""
        if not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidRequest(
                f"The Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} characters.",
                param="Idempotency-Key",
            )
        if self._lease is not None and not self._lease.renewed:
            self._lease.renew()  # a claim must never name a lease that does not exist yet
        now = dt.datetime.now(dt.UTC)
        try:
            with self._db.write() as session:
                session.execute(
                    delete(IdempotencyRecord).where(
                        IdempotencyRecord.owner == owner,
                        IdempotencyRecord.key == key,
                        _free(now),
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
                        lease_id=self._lease.id if self._lease is not None else None,
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
        if row.state == "unstored":
            raise Conflict(
                "The answer to the first request with this Idempotency-Key was not kept: it was "
                f"larger than stored answers may be ({self._limits.per_answer} bytes each, "
                f"{self._limits.per_owner} for all of a tenant's). That request ran and was "
                "billed once; send a new Idempotency-Key to run it again.",
                param="Idempotency-Key",
                code="idempotency_answer_not_stored",
            )
        if row.state != "done" or row.body is None or row.status_code is None:
            raise Conflict(
                "A request with this Idempotency-Key is still running; retry when it has ended.",
                param="Idempotency-Key",
                code="idempotency_key_in_use",
            )
        return StoredResponse(row.status_code, row.content_type or "application/json", row.body)

    def complete(self, owner: str, key: str, response: StoredResponse) -> bool:
        """Keep the answer for retries; False if it is over the limits (see `AnswerLimits`)."""
        now = dt.datetime.now(dt.UTC)
        with self._db.write() as session:
            kept = len(response.body) <= self._limits.per_answer and (
                self._stored_bytes(session, owner) + len(response.body) <= self._limits.per_owner
            )
            session.execute(
                update(IdempotencyRecord)
                .where(IdempotencyRecord.owner == owner, IdempotencyRecord.key == key)
                .values(
                    state="done" if kept else "unstored",
                    status_code=response.status_code,
                    content_type=response.content_type,
                    body=response.body if kept else None,
                    expires_at=now + self._ttl,
                )
            )
        return kept

    @staticmethod
    def _stored_bytes(session: Session, owner: str) -> int:
        total = session.scalar(
            select(func.coalesce(func.sum(func.length(IdempotencyRecord.body)), 0)).where(
                IdempotencyRecord.owner == owner, IdempotencyRecord.state == "done"
            )
        )
        return int(total or 0)

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
        """Forget expired answers and the claims of processes that died."""
        ProcessLease.sweep_expired(self._db)
        with self._db.write() as session:
            session.execute(delete(IdempotencyRecord).where(_free(dt.datetime.now(dt.UTC))))


def _free(now: dt.datetime) -> ColumnElement[bool]:
    """A record that may go: expired, or a claim whose process's lease has expired."""
    lease_alive = exists().where(
        ProcessLeaseRow.id == IdempotencyRecord.lease_id, ProcessLeaseRow.expires_at >= now
    )
    orphaned = and_(
        IdempotencyRecord.state == "running",
        IdempotencyRecord.lease_id.is_not(None),
        ~lease_alive,
    )
    return or_(IdempotencyRecord.expires_at < now, orphaned)
