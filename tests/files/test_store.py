"""The file store on a real database: each owner's files, paged, read back, deleted; a refused
or failed upload leaves neither a row nor bytes behind."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from corral.errors import InvalidRequest, NotFound
from corral.files.config import FilesConfig
from corral.files.store import FileStore
from corral.privacy.detect import DetectionTimeout, Detector
from corral.settings import load_settings
from corral.storage import open_database

EXAMPLE = json.dumps(
    {
        "messages": [
            {"role": "user", "content": "I am Anna Schmidt, write to anna.schmidt@example.com"},
            {"role": "assistant", "content": "Noted."},
        ]
    }
)


@pytest.fixture
async def store(database_url: str, tmp_path: Path) -> AsyncIterator[FileStore]:
    db = open_database(load_settings(database_url=database_url))
    yield FileStore(db, tmp_path, FilesConfig(), Detector())
    db.close()


async def upload(store: FileStore, owner: str, data: bytes, purpose: str = "user_data") -> str:
    incoming = store.receive()
    try:
        incoming.write(data)
        return (await store.add(owner, "notes/data.jsonl", purpose, incoming)).id
    finally:
        incoming.discard()


def stored_blobs(store: FileStore) -> list[Path]:
    return [p for p in store.blobs.root.rglob("*") if p.is_file()]


async def test_an_owner_reads_back_its_file_and_nobody_else_sees_it(store: FileStore) -> None:
    file_id = await upload(store, "ten_a", b"some bytes")

    record = await store.get("ten_a", file_id)
    assert (record.filename, record.bytes, record.purpose) == ("data.jsonl", 10, "user_data")
    assert (await store.content("ten_a", file_id)).read_bytes() == b"some bytes"
    with pytest.raises(NotFound, match=f"No such File object: {file_id}"):
        await store.get("ten_b", file_id)
    with pytest.raises(NotFound):
        await store.delete("ten_b", file_id)
    assert (await store.list("ten_b")).files == []
    assert [r.id for r in (await store.list(None)).files] == [file_id]  # the operator's CLI


async def test_files_are_paged_newest_first_or_oldest_first(store: FileStore) -> None:
    ids = [await upload(store, "ten_a", f"file {n}".encode()) for n in range(5)]

    first = await store.list("ten_a", limit=2)
    rest = await store.list("ten_a", limit=10, after=first.files[-1].id)
    oldest = await store.list("ten_a", order="asc", limit=10)

    assert first.has_more and not rest.has_more
    newest_first = [r.id for r in first.files + rest.files]
    assert sorted(newest_first) == sorted(ids) and len(set(newest_first)) == 5
    assert [r.id for r in oldest.files] == newest_first[::-1]


async def test_a_purpose_filters_the_list(store: FileStore) -> None:
    await upload(store, "ten_a", b"x")
    batch = await upload(store, "ten_a", b"y", purpose="batch")

    assert [r.id for r in (await store.list("ten_a", purpose="batch")).files] == [batch]


async def test_a_deleted_file_is_gone_with_its_bytes(store: FileStore) -> None:
    file_id = await upload(store, "ten_a", b"bytes")

    await store.delete("ten_a", file_id)

    with pytest.raises(NotFound):
        await store.content("ten_a", file_id)
    assert stored_blobs(store) == []


async def test_a_refused_upload_leaves_nothing(store: FileStore) -> None:
    with pytest.raises(InvalidRequest, match="line 1: not valid JSON"):
        await upload(store, "ten_a", b"not json\n", purpose="fine-tune")
    with pytest.raises(InvalidRequest, match="'purpose'"):
        await upload(store, "ten_a", b"x", purpose="vision")

    assert (await store.list("ten_a")).files == []
    assert stored_blobs(store) == []


async def test_bytes_whose_row_cannot_be_written_are_removed(
    store: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "_insert", broken)

    with pytest.raises(RuntimeError):
        await upload(store, "ten_a", b"x")
    assert stored_blobs(store) == []


async def test_a_training_file_gets_a_summary_and_counts_of_personal_data(
    store: FileStore,
) -> None:
    file_id = await upload(store, "ten_a", f"{EXAMPLE}\n{EXAMPLE}\n".encode(), "fine-tune")

    record = await store.get("ten_a", file_id)
    assert record.summary == {"lines": 2, "examples": 2}
    assert record.pii is not None and record.pii["status"] == "complete"
    assert record.pii["counts"]["EMAIL"] == 2
    assert "anna" not in json.dumps(record.pii).lower()  # counts, never values


async def test_a_training_file_too_large_to_scan_says_so(database_url: str, tmp_path: Path) -> None:
    db = open_database(load_settings(database_url=database_url))
    small = FileStore(db, tmp_path, FilesConfig(pii_scan_max_bytes=10))
    try:
        file_id = await upload(small, "ten_a", f"{EXAMPLE}\n".encode(), "fine-tune")
        pii = (await small.get("ten_a", file_id)).pii
    finally:
        db.close()

    assert pii == {
        "status": "skipped",
        "counts": {},
        "note": "larger than files.pii_scan_max_bytes (10 bytes)",
    }


class _Slow(Detector):
    def detect(self, text: str, deadline: float | None = None) -> list:  # type: ignore[type-arg]
        raise DetectionTimeout


async def test_a_scan_out_of_time_is_partial(database_url: str, tmp_path: Path) -> None:
    db = open_database(load_settings(database_url=database_url))
    slow = FileStore(db, tmp_path, FilesConfig(), _Slow())
    try:
        file_id = await upload(slow, "ten_a", f"{EXAMPLE}\n".encode(), "fine-tune")
        pii = (await slow.get("ten_a", file_id)).pii
    finally:
        db.close()

    assert pii is not None and pii["status"] == "partial"
    assert pii["note"] == "stopped at line 1: out of time"
