"""The upload's multipart reader: the file part streamed out in pieces, however the body is cut
into chunks; malformed bodies are 400s that say what is wrong."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from corral.api.files.multipart import boundary_of, read_form
from corral.errors import InvalidRequest

DATA = b'{"a": 1}\r\n--not-the-boundary\r\n' * 50


def encoded(files: dict[str, tuple[str, bytes]], data: dict[str, str]) -> tuple[str, bytes]:
    request = httpx.Request("POST", "http://x", files=files, data=data)
    return request.headers["content-type"], request.read()


async def chunks_of(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize("size", [1, 7, 64, 100_000])
async def test_fields_and_the_file_arrive_whatever_the_chunking(size: int) -> None:
    content_type, body = encoded({"file": ("train.jsonl", DATA)}, {"purpose": "fine-tune"})
    received: list[bytes] = []

    form = await read_form(chunks_of(body, size), boundary_of(content_type), received.append)

    assert form.fields == {"purpose": "fine-tune"}
    assert form.has_file and form.filename == "train.jsonl"
    assert b"".join(received) == DATA


async def test_a_form_without_a_file_says_so_to_its_caller() -> None:
    body = b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--b--\r\n'

    form = await read_form(chunks_of(body, 10), b"b", lambda _: None)

    assert not form.has_file and form.fields == {"purpose": "batch"}


@pytest.mark.parametrize(
    ("content_type", "reason"),
    [
        ("application/json", "not multipart/form-data"),
        ("multipart/form-data", "names no boundary"),
    ],
)
def test_a_body_that_is_not_multipart_is_refused(content_type: str, reason: str) -> None:
    with pytest.raises(InvalidRequest, match=reason):
        boundary_of(content_type)


async def test_a_body_cut_short_is_refused() -> None:
    content_type, body = encoded({"file": ("a.txt", DATA)}, {})

    with pytest.raises(InvalidRequest, match="ended in the middle of the file"):
        await read_form(chunks_of(body[:-60], 50), boundary_of(content_type), lambda _: None)


async def test_garbage_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="no first boundary"):
        await read_form(chunks_of(b"x" * 100_000, 1000), b"abc", lambda _: None)


async def test_the_fields_before_the_file_can_be_refused_before_its_bytes_are_read() -> None:
    content_type, body = encoded({"file": ("a.txt", DATA)}, {"purpose": "pictures"})
    received: list[bytes] = []

    def refuse(fields: dict[str, str]) -> None:
        raise InvalidRequest(f"no {fields['purpose']}")

    with pytest.raises(InvalidRequest, match="no pictures"):
        await read_form(chunks_of(body, 64), boundary_of(content_type), received.append, refuse)
    assert received == []
