"""Private datasets: a tenant marks an eval dataset (a file uploaded for `evals`) private, and
a run that would send its items to a third party (a partner model, or a partner judge) is then
refused unless it says `allow_private_dataset: true`.

A dataset is its content: marking one file private marks every upload of the same bytes (the
same SHA-256) of that owner, as the leaderboard counts them as one dataset. The mark is kept
in the file's `summary` (`private: true`). Exposure (`evals.exposure`) records what was sent
all the same; this stops the sending.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from corral.catalog.catalog import ModelEntry
from corral.errors import InvalidRequest, PermissionDenied
from corral.evals.exposure import THIRD_PARTIES
from corral.files.store import FileStore, not_found
from corral.storage import Database
from corral.storage.tables import StoredFile

ALLOW_FLAG = "allow_private_dataset"


@dataclass(frozen=True, slots=True)
class Dataset:
    file_id: str
    sha256: str
    private: bool


class Datasets:
    def __init__(self, db: Database, files: FileStore) -> None:
        self._db = db
        self._files = files

    async def get(self, owner: str, file_id: str) -> Dataset:
        record = await self._files.get(owner, file_id)
        private = await self._db.run(self._private, owner, record.sha256)
        return Dataset(record.id, record.sha256, private)

    async def mark(self, owner: str, file_id: str, private: bool) -> Dataset:
        record = await self._files.get(owner, file_id)
        if record.purpose != "evals":
            raise InvalidRequest(
                f"File {file_id} was uploaded for '{record.purpose}', not 'evals'.",
                param="file_id",
            )
        await self._db.run(self._mark, owner, record.sha256, private)
        return Dataset(record.id, record.sha256, private)

    def _private(self, owner: str, sha256: str) -> bool:
        return any(bool((row.summary or {}).get("private")) for row in self._same(owner, sha256))

    def _same(self, owner: str, sha256: str) -> list[StoredFile]:
        query = select(StoredFile).where(
            StoredFile.tenant_id == owner,
            StoredFile.sha256 == sha256,
            StoredFile.purpose == "evals",
        )
        with self._db.read() as session:
            return list(session.scalars(query))

    def _mark(self, owner: str, sha256: str, private: bool) -> None:
        with self._db.write() as session:
            query = select(StoredFile).where(
                StoredFile.tenant_id == owner,
                StoredFile.sha256 == sha256,
                StoredFile.purpose == "evals",
            )
            rows = list(session.scalars(query))
            if not rows:
                raise not_found(sha256)
            for row in rows:
                row.summary = {**(row.summary or {}), "private": private}  # a new dict: saved

    async def check_run(
        self,
        owner: str,
        source: dict[str, Any],
        models: Iterable[ModelEntry],
        allowed: bool,
    ) -> None:
        """Refuse a run of a private dataset whose items `models` would send to a third
        party, unless the run allows it."""
        partners = sorted({m.kind for m in models if m.kind in THIRD_PARTIES})
        if allowed or not partners or source.get("type") != "file_id":
            return
        dataset = await self.get(owner, str(source.get("id")))
        if dataset.private:
            raise PermissionDenied(
                f"Dataset {dataset.file_id} is marked private, and this run would send its "
                f"items to {', '.join(partners)}. Run it on a local model, or pass "
                f"{ALLOW_FLAG}: true to send it anyway.",
                param=ALLOW_FLAG,
                code="private_dataset",
            )
