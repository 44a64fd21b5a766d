"""The bytes of stored files, one file per id under `CORRAL_HOME/files`.

An upload is written to a temporary file in `files/incoming` as it arrives (counted, hashed,
refused past the size limit) and renamed into place only once it is whole and checked: a file
in `files/` is always complete, and a failed or refused upload leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import time
from pathlib import Path

from corral.errors import PayloadTooLarge
from corral.storage.private import FILE_MODE, private_dir


class Blobs:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, file_id: str) -> Path:
        # ids are made here (`file-` + hex), never taken from a client unchecked: see `store`.
        return self.root / file_id[-2:] / file_id

    def receive(self, max_bytes: int) -> Incoming:
        incoming = private_dir(self.root / "incoming")
        _forget_abandoned(incoming)
        return Incoming(incoming, max_bytes)

    def keep(self, incoming: Incoming, file_id: str) -> Path:
        """Move a whole upload into place under `file_id` (atomic: one rename)."""
        target = self.path(file_id)
        private_dir(target.parent)
        incoming.finish()
        os.replace(incoming.path, target)
        incoming.kept = True
        return target

    def remove(self, file_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(file_id).unlink()


class Incoming:
    """An upload being received: chunks appended to a private temporary file."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.path = directory / f"upload-{secrets.token_hex(8)}.part"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        self._file = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.size = 0
        self.kept = False

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise too_large(self.max_bytes)
        self._hash.update(chunk)
        self._file.write(chunk)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def finish(self) -> None:
        """Flush and sync the bytes, so the rename never publishes a file shorter than this."""
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def discard(self) -> None:
        """Remove the temporary file unless it was kept (safe to call more than once)."""
        self._file.close()
        if not self.kept:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


ABANDONED_S = 24 * 3600
"""An upload's temporary file untouched this long was left by a process that died mid-upload
(a live upload writes to it as its bytes arrive)."""


def _forget_abandoned(directory: Path) -> None:
    cutoff = time.time() - ABANDONED_S
    for part in directory.glob("*.part"):
        with contextlib.suppress(FileNotFoundError):
            if part.stat().st_mtime < cutoff:
                part.unlink()


def too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The file is larger than the limit of {max_bytes} bytes (files.max_bytes in the config).",
        param="file",
        code="file_too_large",
    )
