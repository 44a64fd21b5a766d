"""A transport that sends what one turn of the event loop writes to a connection in one piece.

uvicorn writes a response's status line and headers, then its body, and then each event of a
stream, each with its own `transport.write`: a system call and a TCP segment apiece, where the
client could have had them together. The answer to one request is usually written within one
turn of the event loop (a plain response's start and body; the events of a streamed answer that
arrived in one piece from upstream), so `CoalescingTransport` keeps a turn's writes and sends
them once that turn is over: one call instead of two to seven (bench/gateway_cpu.py). Nothing
waits longer than the rest of the turn, and closing sends what is kept first.
"""

from __future__ import annotations

import asyncio
from typing import Any


class CoalescingTransport:
    """Wraps a connection's transport: `write` keeps the data until the event loop's turn
    ends; everything else is the transport's own."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def flush(self) -> None:
        """Send what is kept now (nothing, once the connection is closing)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        if not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def get_write_buffer_size(self) -> int:
        return sum(len(data) for data in self._pending) + self._transport.get_write_buffer_size()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
