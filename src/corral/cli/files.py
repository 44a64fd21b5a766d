"""`corral files`: upload, list, show and delete tenants' files (the Files API's store).

Like the account commands, these work on the server's database and `CORRAL_HOME/files`
directly, so they need no running server; run them where the server keeps its home. An upload
is checked exactly as `POST /v1/files` checks it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Column

from corral.api.files.protocol import FileList, FileObject
from corral.cli.common import ConfigOption, JsonOption, accounts, database, make_table, print_json
from corral.errors import InvalidRequest
from corral.files.store import FileRecord, FileStore
from corral.files.validate import PURPOSES
from corral.settings import Settings
from corral.storage import Database

app = typer.Typer(help="Manage tenants' files (fine-tuning data, eval sets).", no_args_is_help=True)
FileId = Annotated[str, typer.Argument(help="The file's id (file-...).")]
CHUNK = 1024 * 1024


def _store(settings: Settings, db: Database) -> FileStore:
    return FileStore(db, settings.home, settings.files)


@app.command("upload")
def upload(
    path: Annotated[Path, typer.Argument(help="The file to upload.")],
    tenant: Annotated[str, typer.Option(help="The tenant's name or id.")],
    purpose: Annotated[str, typer.Option(help=f"One of: {', '.join(PURPOSES)}.")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Upload a file for a tenant; fine-tune and evals files must be valid JSONL."""
    if not path.is_file():
        raise InvalidRequest(f"{path}: no such file", param="path")
    with database(config) as (settings, db):
        owner = accounts(settings, db).get_tenant(tenant).id
        record = asyncio.run(_upload(_store(settings, db), owner, path, purpose))
    if as_json:
        print_json(FileObject.of(record))
        return
    typer.echo(f"uploaded {record.id} ({record.bytes} bytes) for tenant {owner}")
    _details(record)


async def _upload(store: FileStore, owner: str, path: Path, purpose: str) -> FileRecord:
    incoming = store.receive()
    try:
        with path.open("rb") as source:
            while chunk := source.read(CHUNK):
                incoming.write(chunk)
        return await store.add(owner, path.name, purpose, incoming)
    finally:
        incoming.discard()


@app.command("list")
def list_files(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's files.")] = None,
    purpose: Annotated[str | None, typer.Option(help="Only files with this purpose.")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List files, newest first."""
    with database(config) as (settings, db):
        owner = accounts(settings, db).get_tenant(tenant).id if tenant else None
        page = asyncio.run(_store(settings, db).list(owner, purpose=purpose))
    if as_json:
        data = [FileObject.of(record) for record in page.files]
        first, last = (data[0].id, data[-1].id) if data else (None, None)
        print_json(FileList(data=data, first_id=first, last_id=last, has_more=page.has_more))
        return
    table = make_table(
        Column("id", no_wrap=True), "tenant", "filename", "purpose", "bytes", "created"
    )
    for record in page.files:
        table.add_row(
            record.id,
            record.owner,
            record.filename,
            record.purpose,
            str(record.bytes),
            _when(record.created_at),
        )
    Console().print(table)


@app.command("show")
def show_file(file_id: FileId, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """A file's record: size, checksum, summary and personal-data counts."""
    with database(config) as (settings, db):
        record = asyncio.run(_store(settings, db).get(None, file_id))
    if as_json:
        print_json(FileObject.of(record))
        return
    typer.echo(f"{record.id}  {record.filename}")
    typer.echo(f"  tenant:  {record.owner}")
    typer.echo(f"  purpose: {record.purpose}")
    typer.echo(f"  bytes:   {record.bytes}")
    typer.echo(f"  created: {_when(record.created_at)}")
    _details(record)


@app.command("delete")
def delete_file(file_id: FileId, config: ConfigOption = None) -> None:
    """Delete a file: its record and its bytes."""
    with database(config) as (settings, db):
        asyncio.run(_store(settings, db).delete(None, file_id))
    typer.echo(f"deleted {file_id}")


def _details(record: FileRecord) -> None:
    typer.echo(f"  sha256:  {record.sha256}")
    if record.summary is not None:
        counted = ", ".join(f"{value} {name}" for name, value in record.summary.items())
        typer.echo(f"  content: {counted}")
    if record.pii is not None:
        counts = ", ".join(f"{n} {label}" for label, n in record.pii["counts"].items()) or "none"
        note = f" ({record.pii['note']})" if record.pii["note"] else ""
        typer.echo(f"  personal data ({record.pii['status']}): {counts}{note}")


def _when(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")
