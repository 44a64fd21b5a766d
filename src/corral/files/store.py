"""The files of each owner: added once checked, listed, read back, deleted.

Every read and write names the owner (a tenant's id, or "admin"): nobody sees another's files;
one that is not theirs is "No such File object", as if it did not exist. `None` as the owner
is the operator's CLI, which sees them all.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session

from corral.errors import NotFound
from corral.files import pii, validate
from corral.files.blobs import Blobs, Incoming
from corral.files.config import FilesConfig
from corral.privacy.detect import Detector
from corral.storage import Database
from corral.storage.tables import StoredFile

ID_PREFIX = "file-"
_ID = re.compile(r"^file-[0-9a-f]{24}$")
MAX_FILENAME = 255


@dataclass(frozen=True, slots=True)
class FileRecord:
    id: str
    owner: str
    filename: str
    purpose: str
    bytes: int
    sha256: str
    created_at: dt.datetime
    summary: dict[str, Any] | None
    pii: dict[str, Any] | None

    @classmethod
    def of(cls, row: StoredFile) -> FileRecord:
        return cls(
            row.id,
            row.tenant_id,
            row.filename,
            row.purpose,
            row.bytes,
            row.sha256,
            row.created_at,
            row.summary,
            row.pii,
        )


@dataclass(frozen=True, slots=True)
class Page:
    files: list[FileRecord]
    has_more: bool


def not_found(file_id: str) -> NotFound:
    return NotFound(f"No such File object: {file_id}", param="id")


def clean_filename(name: str | None) -> str:
    """The name as shown back: its last path component, without control characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base[:MAX_FILENAME] or "upload"


class FileStore:
    def __init__(
        self, db: Database, home: Path, config: FilesConfig, detector: Detector | None = None
    ) -> None:
        self._db = db
        self.blobs = Blobs(home / "files")
        self.config = config
        self._detector = detector

    def receive(self) -> Incoming:
        """A temporary file for an upload's bytes, bounded by `files.max_bytes`."""
        return self.blobs.receive(self.config.max_bytes)

    async def add(
        self, owner: str, filename: str | None, purpose: str, incoming: Incoming
    ) -> FileRecord:
        """Check the received bytes against `purpose`, move them into place, record them.
        A refused upload is discarded; the caller discards `incoming` in any case."""
        check_purpose(purpose)
        summary, report = await asyncio.to_thread(self._inspect, incoming, purpose)
        record = FileRecord(
            id=ID_PREFIX + secrets.token_hex(12),
            owner=owner,
            filename=clean_filename(filename),
            purpose=purpose,
            bytes=incoming.size,
            sha256=incoming.sha256,
            created_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
            summary=summary,
            pii=report,
        )
        self.blobs.keep(incoming, record.id)
        try:
            await self._db.run(self._insert, record)
        except BaseException:
            self.blobs.remove(record.id)
            raise
        return record

    def _inspect(
        self, incoming: Incoming, purpose: str
    ) -> tuple[dict[str, int] | None, dict[str, Any] | None]:
        incoming.finish()
        summary = validate.check_file(incoming.path, purpose)
        if purpose != "fine-tune":
            return (summary.as_dict() if summary else None), None
        report = pii.scan_file(
            incoming.path,
            incoming.size,
            self._detector or Detector(),
            self.config.pii_scan_max_bytes,
            self.config.pii_scan_timeout_s,
        )
        return (summary.as_dict() if summary else None), report

    def _insert(self, record: FileRecord) -> None:
        with self._db.write() as session:
            session.add(
                StoredFile(
                    id=record.id,
                    tenant_id=record.owner,
                    filename=record.filename,
                    purpose=record.purpose,
                    bytes=record.bytes,
                    sha256=record.sha256,
                    created_at=record.created_at,
                    summary=record.summary,
                    pii=record.pii,
                )
            )

    async def get(self, owner: str | None, file_id: str) -> FileRecord:
        record = await self._db.run(self._get, owner, file_id)
        if record is None:
            raise not_found(file_id)
        return record

    def _get(self, owner: str | None, file_id: str) -> FileRecord | None:
        with self._db.read() as session:
            row = _row(session, owner, file_id)
            return None if row is None else FileRecord.of(row)

    async def content(self, owner: str | None, file_id: str) -> Path:
        """Where the file's bytes are (it exists when this returns)."""
        record = await self.get(owner, file_id)
        path = self.blobs.path(record.id)
        if not path.is_file():  # deleted meanwhile
            raise not_found(file_id)
        return path

    async def delete(self, owner: str | None, file_id: str) -> None:
        """The row goes first: from then on nobody lists or reads it; then the bytes."""
        if not await self._db.run(self._delete, owner, file_id):
            raise not_found(file_id)
        self.blobs.remove(file_id)

    def _delete(self, owner: str | None, file_id: str) -> bool:
        with self._db.write() as session:
            statement = delete(StoredFile).where(StoredFile.id == file_id)
            if owner is not None:
                statement = statement.where(StoredFile.tenant_id == owner)
            return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]

    async def list(
        self,
        owner: str | None,
        *,
        purpose: str | None = None,
        limit: int = 10_000,
        order: str = "desc",
        after: str | None = None,
    ) -> Page:
        """A page of the owner's files by creation time (`order` asc or desc), after the file
        `after` (which must be theirs)."""
        return await self._db.run(self._list, owner, purpose, limit, order, after)

    def _list(
        self, owner: str | None, purpose: str | None, limit: int, order: str, after: str | None
    ) -> Page:
        newest_first = order == "desc"
        stamp, key = StoredFile.created_at, StoredFile.id
        with self._db.read() as session:
            query = select(StoredFile)
            if owner is not None:
                query = query.where(StoredFile.tenant_id == owner)
            if purpose is not None:
                query = query.where(StoredFile.purpose == purpose)
            if after is not None:
                cursor = _row(session, owner, after)
                if cursor is None:
                    raise NotFound(f"No such File object: {after}", param="after")
                at, cid = cursor.created_at, cursor.id
                if newest_first:
                    query = query.where(or_(stamp < at, and_(stamp == at, key < cid)))
                else:
                    query = query.where(or_(stamp > at, and_(stamp == at, key > cid)))
            ordering = (stamp.desc(), key.desc()) if newest_first else (stamp.asc(), key.asc())
            rows = session.execute(query.order_by(*ordering).limit(limit + 1)).scalars().all()
        records = [FileRecord.of(row) for row in rows]
        return Page(records[:limit], len(records) > limit)


def check_purpose(purpose: str) -> None:
    if purpose not in validate.PURPOSES:
        raise validate.InvalidFile(
            f"Invalid value for 'purpose': '{purpose}'; expected one of "
            f"{', '.join(validate.PURPOSES)}.",
            param="purpose",
            code="invalid_value",
        )


def _row(session: Session, owner: str | None, file_id: str) -> StoredFile | None:
    if not _ID.match(file_id):
        return None
    row = session.get(StoredFile, file_id)
    if row is None or (owner is not None and row.tenant_id != owner):
        return None
    return row
