"""What the remote backends' tests share: requests as the gateway hands them over, their
streams collected, and loopback listeners (plain or https, with a self-signed certificate)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from corral.backends.base import (
    Backend,
    ChatMessage,
    GenerationRequest,
    SamplingParams,
    StreamEvent,
    TextDelta,
)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]

# -- requests and streams ------------------------------------------------------------------------


def chat(*messages: ChatMessage, **params: Any) -> GenerationRequest:
    return GenerationRequest("req_test", SamplingParams(**params), messages=messages)


def user(text: str) -> ChatMessage:
    return ChatMessage("user", text)


async def drain(events: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    """The rest of a stream (all of it, when nothing was read yet)."""
    return [event async for event in events]


async def collect(backend: Backend, request: GenerationRequest) -> list[StreamEvent]:
    """Every event of `request`'s stream."""
    return await drain(await backend.stream(request))


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def eventually(condition: Callable[[], bool], within_s: float = 2.0) -> None:
    """Waits until `condition()` holds: a provider learns of a hang-up a moment after it."""
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.02)


# -- loopback listeners --------------------------------------------------------------------------


@asynccontextmanager
async def listening(handle: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    """`handle` serves each connection to a free loopback port (yielded) until the block ends."""
    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    async with server:
        yield server.sockets[0].getsockname()[1]


def self_signed(host: str, folder: Path) -> tuple[Path, Path]:
    """A certificate for `host`, its own CA, and its key: (cert.pem, key.pem) in `folder`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
