"""What the assistant-tasks page sends: a task, a model and the input, pasted or picked as a
file (a WhatsApp `.txt` or `.zip` export, a feed's JSON, a creator's CSV or JSON), read into
the same request objects as `/v1/tasks/...` takes. The form is multipart when it carries a
file (read with the files API's own streaming reader, bounded here) and checked for its CSRF
token like every other console form."""

from __future__ import annotations

import hmac
import io
import zipfile
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request
from pydantic import BaseModel, ValidationError

from corral.api.console.web import Visitor, read_form, same_origin
from corral.api.errors import from_validation_error
from corral.api.files.multipart import boundary_of
from corral.api.files.multipart import read_form as read_multipart
from corral.api.tasks.protocol import ExplainRequest, SummarizeRequest, TipsRequest
from corral.errors import InvalidRequest, PermissionDenied

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
"""A file picked on the page; far above a chat export without media."""

TASKS = {
    "explain-conversation": "Explain a chat export",
    "summarize": "Summarise a feed",
    "creator-tips": "Creator tips",
}


@dataclass(frozen=True, slots=True)
class TaskForm:
    task: str
    fields: dict[str, str]
    text: str
    """The input: the file's text if one was picked, else what was pasted."""


async def task_form(request: Request, visitor: Visitor) -> TaskForm:
    same_origin(request)
    content_type = request.headers.get("content-type", "")
    data: bytes | None = None
    filename: str | None = None
    if content_type.startswith("multipart/form-data"):
        buffer = io.BytesIO()

        def sink(chunk: bytes) -> None:
            if buffer.tell() + len(chunk) > MAX_UPLOAD_BYTES:
                raise InvalidRequest(
                    f"The file is larger than {MAX_UPLOAD_BYTES // 2**20} MiB.",
                    param="file",
                    code="file_too_large",
                )
            buffer.write(chunk)

        form = await read_multipart(
            request.stream(), boundary_of(content_type), sink, max_field_bytes=MAX_UPLOAD_BYTES
        )
        fields, filename = form.fields, form.filename
        data = buffer.getvalue() or None
    else:
        fields = await read_form(request, limit=3 * MAX_UPLOAD_BYTES)  # %XX triples a byte
    token = fields.get("csrf", "")
    if not hmac.compare_digest(token.encode(), visitor.csrf.encode()):
        raise PermissionDenied(
            "This form has expired or did not come from the console; reload the page and "
            "try again.",
            code="csrf_failed",
        )
    task = fields.get("task", "")
    if task not in TASKS:
        raise InvalidRequest(f"Pick one of the tasks: {', '.join(TASKS)}.", param="task")
    text = uploaded_text(data, filename) if data is not None else fields.get("text", "")
    if not text.strip():
        raise InvalidRequest("Paste the input or pick a file.", param="text")
    return TaskForm(task, fields, text)


def uploaded_text(data: bytes, filename: str | None) -> str:
    """A file's text; from a `.zip` (WhatsApp's export with media), its one chat `.txt`."""
    if data.startswith(b"PK\x03\x04") or (filename or "").lower().endswith(".zip"):
        data = _chat_in_zip(data)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(
            f"The file is not UTF-8 text (undecodable byte at {exc.start}); export the chat "
            "as text, or pick the .zip WhatsApp made.",
            param="file",
        ) from None


def _chat_in_zip(data: bytes) -> bytes:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        texts = [m for m in archive.infolist() if m.filename.lower().endswith(".txt")]
        if len(texts) != 1:
            raise InvalidRequest(
                f"The .zip holds {len(texts)} .txt files; a WhatsApp export holds one.",
                param="file",
            )
        # The size a zip declares may lie: read one byte past the limit to know.
        with archive.open(texts[0]) as member:
            text = member.read(MAX_UPLOAD_BYTES + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError):
        raise InvalidRequest("The .zip file cannot be read.", param="file") from None
    if len(text) > MAX_UPLOAD_BYTES:
        raise InvalidRequest(
            f"The chat in the .zip is larger than {MAX_UPLOAD_BYTES // 2**20} MiB.", param="file"
        )
    return text


def task_request(form: TaskForm) -> ExplainRequest | SummarizeRequest | TipsRequest:
    """The request `/v1/tasks/{task}` would get for this form."""
    fields = form.fields
    body: dict[str, Any] = {"model": fields.get("model", "")}
    if fields.get("language") in ("en", "de"):
        body["language"] = fields["language"]
    model: type[BaseModel]
    if form.task == "explain-conversation":
        model = ExplainRequest
        body.update(chat=form.text, mode=fields.get("mode") or "fast")
    elif form.task == "summarize":
        model = SummarizeRequest
        body.update(posts=_posts(form.text), focus=fields.get("focus", "").strip() or None)
        body.update(mode=fields.get("mode") or "fast")
    else:
        model = TipsRequest
        text = form.text.lstrip()
        body.update(posts=_posts(text) if text[:1] in "[{" else None)
        body.update(csv=None if text[:1] in "[{" else form.text)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise from_validation_error(exc) from None


def _posts(text: str) -> Any:
    """A JSON list of posts, or an object with one under `posts` (as the API's body has)."""
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The posts are not valid JSON: {exc}.", param="text") from None
    if isinstance(document, dict) and "posts" in document:
        document = document["posts"]
    if not isinstance(document, list):
        raise InvalidRequest('The posts must be a JSON list (or {"posts": [...]}).', param="text")
    return document
