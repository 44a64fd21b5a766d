"""Reading a `multipart/form-data` upload as it arrives: the `file` part straight into a sink
(the store's temporary file, which enforces the size limit), the few small fields into memory.

Written here rather than taken from a library: FastAPI's form support spools every file into
the system's temporary directory first, unbounded, where corral wants it written once, under
`CORRAL_HOME`, and refused as soon as it passes `files.max_bytes`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from email.message import Message

from corral.errors import InvalidRequest

FILE_FIELD = "file"
MAX_FIELD_BYTES = 64 * 1024
MAX_HEADER_BYTES = 16 * 1024
MAX_PREAMBLE_BYTES = 64 * 1024
MAX_PARTS = 32


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    has_file: bool = False
    filename: str | None = None


def bad(reason: str) -> InvalidRequest:
    return InvalidRequest(
        f"The request body must be multipart/form-data with a 'file' part: {reason}.",
        code="invalid_multipart",
    )


def boundary_of(content_type: str | None) -> bytes:
    message = Message()
    message["content-type"] = content_type or ""
    if message.get_content_type() != "multipart/form-data":
        raise bad("the Content-Type is not multipart/form-data")
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not 0 < len(boundary) <= 200:
        raise bad("the Content-Type names no boundary")
    return boundary.encode("latin-1", errors="replace")


async def read_form(
    chunks: AsyncIterator[bytes],
    boundary: bytes,
    sink: Callable[[bytes], None],
    before_file: Callable[[dict[str, str]], None] = lambda _: None,
    max_field_bytes: int = MAX_FIELD_BYTES,
) -> Form:
    """The form's fields; the bytes of its `file` part go to `sink` as they come.
    `before_file` sees the fields sent before the file (it may refuse them early)."""
    reader = _Reader(chunks)
    delimiter = b"--" + boundary
    await reader.until(delimiter, MAX_PREAMBLE_BYTES, "no first boundary")
    form = Form()
    for _ in range(MAX_PARTS + 1):
        if await reader.peek(2) == b"--":
            return form
        await reader.until(b"\r\n", 256, "a boundary line is malformed")
        name, filename = _disposition(await reader.headers())
        end = b"\r\n" + delimiter
        if name == FILE_FIELD:
            if form.has_file:
                raise bad("it has more than one 'file' part")
            form.has_file, form.filename = True, filename
            before_file(form.fields)
            await reader.stream_until(end, sink)
        else:
            value = await reader.until(end, max_field_bytes, f"the field '{name}' is too long")
            form.fields[name] = value.decode("utf-8", errors="replace")
    raise bad(f"it has more than {MAX_PARTS} parts")


def _disposition(headers: bytes) -> tuple[str, str | None]:
    message = Message()
    for line in headers.decode("utf-8", errors="replace").split("\r\n"):
        key, colon, value = line.partition(":")
        if colon:
            message[key.strip()] = value.strip()
    name = message.get_param("name", header="content-disposition")
    if not isinstance(name, str) or not name:
        raise bad("a part has no Content-Disposition name")
    return name, message.get_filename()


class _Reader:
    """A buffer over the body's chunks, searched for markers without holding the whole body."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = aiter(chunks)
        self._buffer = bytearray()
        self._ended = False

    async def _more(self) -> bool:
        if self._ended:
            return False
        try:
            chunk = await anext(self._chunks)
        except StopAsyncIteration:
            self._ended = True
            return False
        self._buffer += chunk
        return True

    async def peek(self, count: int) -> bytes:
        while len(self._buffer) < count and await self._more():
            pass
        return bytes(self._buffer[:count])

    async def until(self, marker: bytes, limit: int, too_long: str) -> bytes:
        """The bytes before `marker` (consumed with it); at most `limit` of them."""
        start = 0
        while (found := self._buffer.find(marker, start)) < 0:
            if len(self._buffer) > limit + len(marker):
                raise bad(too_long)
            start = max(0, len(self._buffer) - len(marker) + 1)
            if not await self._more():
                raise bad("the body ended in the middle of a part")
        if found > limit:
            raise bad(too_long)
        value = bytes(self._buffer[:found])
        del self._buffer[: found + len(marker)]
        return value

    async def headers(self) -> bytes:
        if await self.peek(2) == b"\r\n":  # a part without headers
            del self._buffer[:2]
            return b""
        return await self.until(b"\r\n\r\n", MAX_HEADER_BYTES, "a part's headers are too long")

    async def stream_until(self, marker: bytes, sink: Callable[[bytes], None]) -> None:
        """Hand the bytes before `marker` to `sink` as they arrive; consume the marker."""
        keep = len(marker) - 1  # a marker may straddle two chunks
        while (found := self._buffer.find(marker)) < 0:
            if len(self._buffer) > keep:
                sink(bytes(self._buffer[:-keep]))
                del self._buffer[:-keep]
            if not await self._more():
                raise bad("the body ended in the middle of the file")
        sink(bytes(self._buffer[:found]))
        del self._buffer[: found + len(marker)]
