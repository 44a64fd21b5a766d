"""HTTP routes of the Files API: upload (multipart, streamed to disk), list, retrieve, read the
content, delete. The work is `corral.files.store`'s; each tenant sees only its own files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from starlette.requests import ClientDisconnect

from corral.api.deps import ContextDep, ServicesDep
from corral.api.files.multipart import MAX_FIELD_BYTES, MAX_PARTS, boundary_of, read_form
from corral.api.files.protocol import FileDeleted, FileList, FileObject
from corral.errors import ClientClosedRequest, InvalidRequest
from corral.files.blobs import too_large
from corral.files.store import check_purpose
from corral.files.validate import PURPOSES
from corral.pipeline.gateway import RequestContext

UPLOAD_PATH = "/v1/files"
"""Exempt from `server.max_body_bytes`: an upload is bounded by `files.max_bytes` instead."""
_FORM_OVERHEAD = MAX_PARTS * (MAX_FIELD_BYTES + 1024)
_UPLOAD_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file", "purpose"],
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "purpose": {"type": "string", "enum": list(PURPOSES)},
                },
            }
        }
    },
}
_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {"schema": {"type": "string"}}}}
}

router = APIRouter(prefix=UPLOAD_PATH)


def owner(ctx: RequestContext) -> str:
    """Whose files these are: the tenant's, or the operator's (admin key)."""
    return ctx.principal.tenant_id or "admin"


@router.post("", response_model=FileObject, openapi_extra={"requestBody": _UPLOAD_BODY})
async def upload_file(http: Request, ctx: ContextDep, services: ServicesDep) -> FileObject:
    store = services.files
    declared = http.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > store.config.max_bytes + _FORM_OVERHEAD:
        raise too_large(store.config.max_bytes)
    boundary = boundary_of(http.headers.get("content-type"))
    incoming = store.receive()
    try:
        form = await read_form(_body(http), boundary, incoming.write, _early_purpose)
        if not form.has_file:
            raise InvalidRequest("Missing required parameter: 'file'.", param="file")
        purpose = form.fields.get("purpose")
        if purpose is None:
            raise InvalidRequest("Missing required parameter: 'purpose'.", param="purpose")
        if any(name.startswith("expires_after") for name in form.fields):
            raise InvalidRequest(
                "corral keeps files until they are deleted: 'expires_after' is not supported.",
                param="expires_after",
            )
        record = await store.add(owner(ctx), form.filename, purpose, incoming)
    finally:
        incoming.discard()
    return FileObject.of(record)


def _early_purpose(fields: dict[str, str]) -> None:
    """A purpose sent before the file (as the SDK sends it) is checked before its bytes are
    read, so a wrong one is not answered only after a long upload."""
    if "purpose" in fields:
        check_purpose(fields["purpose"])


async def _body(http: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in http.stream():
            yield chunk
    except ClientDisconnect:
        raise ClientClosedRequest("The client closed the connection during the upload.") from None


@router.get("", response_model=FileList)
async def list_files(
    ctx: ContextDep,
    services: ServicesDep,
    purpose: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 10_000,
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    after: str | None = None,
) -> FileList:
    page = await services.files.list(
        owner(ctx), purpose=purpose, limit=limit, order=order, after=after
    )
    data = [FileObject.of(record) for record in page.files]
    return FileList(
        data=data,
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
        has_more=page.has_more,
    )


@router.get("/{file_id}", response_model=FileObject)
async def retrieve_file(file_id: str, ctx: ContextDep, services: ServicesDep) -> FileObject:
    return FileObject.of(await services.files.get(owner(ctx), file_id))


@router.get("/{file_id}/content", response_class=FileResponse, responses=_CONTENT)
async def file_content(file_id: str, ctx: ContextDep, services: ServicesDep) -> FileResponse:
    path = await services.files.content(owner(ctx), file_id)
    return FileResponse(path, media_type="application/octet-stream")


@router.delete("/{file_id}", response_model=FileDeleted)
async def delete_file(file_id: str, ctx: ContextDep, services: ServicesDep) -> FileDeleted:
    await services.files.delete(owner(ctx), file_id)
    return FileDeleted(id=file_id)
