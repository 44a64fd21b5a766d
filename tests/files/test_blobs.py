"""An upload's bytes: written aside, moved into place whole, or left nowhere."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from corral.errors import PayloadTooLarge
from corral.files.blobs import ABANDONED_S, Blobs


def test_an_upload_appears_under_its_id_only_once_kept(tmp_path: Path) -> None:
    blobs = Blobs(tmp_path / "files")
    incoming = blobs.receive(max_bytes=100)
    incoming.write(b"hello ")
    incoming.write(b"world")

    assert not blobs.path("file-00ab").exists()  # nothing half-written is ever in place
    blobs.keep(incoming, "file-00ab")
    incoming.discard()

    assert blobs.path("file-00ab").read_bytes() == b"hello world"
    assert incoming.size == 11
    assert incoming.sha256 == hashlib.sha256(b"hello world").hexdigest()
    assert list((tmp_path / "files" / "incoming").iterdir()) == []


def test_an_upload_over_the_limit_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    blobs = Blobs(tmp_path / "files")
    incoming = blobs.receive(max_bytes=10)
    incoming.write(b"x" * 10)

    with pytest.raises(PayloadTooLarge) as caught:
        incoming.write(b"y")
    incoming.discard()

    assert caught.value.status_code == 413
    assert "limit of 10 bytes (files.max_bytes" in caught.value.message
    assert list((tmp_path / "files" / "incoming").iterdir()) == []


def test_a_removed_file_is_gone_and_removing_it_again_is_harmless(tmp_path: Path) -> None:
    blobs = Blobs(tmp_path / "files")
    incoming = blobs.receive(max_bytes=10)
    incoming.write(b"data")
    blobs.keep(incoming, "file-00cd")

    blobs.remove("file-00cd")
    blobs.remove("file-00cd")

    assert not blobs.path("file-00cd").exists()


def test_an_upload_abandoned_by_a_dead_process_is_cleared_by_the_next(tmp_path: Path) -> None:
    blobs = Blobs(tmp_path / "files")
    dead = blobs.receive(max_bytes=10)
    dead.write(b"half")
    os.utime(dead.path, (time.time() - ABANDONED_S - 1,) * 2)
    live = blobs.receive(max_bytes=10)
    dead.finish()  # the test's own handle on it; a dead process has none

    assert not dead.path.exists()
    assert live.path.exists()
    live.discard()
