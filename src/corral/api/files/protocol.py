"""The Files API's answers, in OpenAI's shapes, plus corral's `corral` details on each file."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from corral.files.store import FileRecord


class PiiReport(BaseModel):
    """Personal data found in a fine-tuning file: counts by category, never the values."""

    status: Literal["complete", "partial", "skipped"]
    counts: dict[str, int]
    note: str | None


class FileDetails(BaseModel):
    """corral's extension of OpenAI's file object (clients that do not know it ignore it)."""

    sha256: str
    lines: int | None
    """JSON lines, for the checked purposes (fine-tune, evals)."""
    examples: int | None
    """Training examples, for fine-tune files."""
    pii: PiiReport | None


class FileObject(BaseModel):
    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    filename: str
    purpose: str
    status: Literal["uploaded", "processed", "error"] = "processed"
    expires_at: int | None = None
    status_details: str | None = None
    corral: FileDetails

    @classmethod
    def of(cls, record: FileRecord) -> FileObject:
        summary = record.summary or {}
        return cls(
            id=record.id,
            bytes=record.bytes,
            created_at=int(record.created_at.timestamp()),
            filename=record.filename,
            purpose=record.purpose,
            corral=FileDetails(
                sha256=record.sha256,
                lines=summary.get("lines"),
                examples=summary.get("examples"),
                pii=None if record.pii is None else PiiReport(**record.pii),
            ),
        )


class FileList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FileObject]
    first_id: str | None
    last_id: str | None
    has_more: bool


class FileDeleted(BaseModel):
    id: str
    object: Literal["file"] = "file"
    deleted: bool = True
