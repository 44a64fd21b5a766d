"""Turning a serving result into an HTTP response, and cancelling work nobody waits for."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import orjson
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from corral.api import sse
from corral.api.errors import envelope
from corral.errors import ClientClosedRequest, CorralError

T = TypeVar("T")
Answer = BaseModel | Mapping[str, Any] | AsyncIterator[bytes]
"""What serving hands back: a whole answer (a model, or an inference answer's typed dict) or
the frames of a stream."""
logger = logging.getLogger("corral.api")
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def respond(
    result: Answer,
    on_close: Sequence[Callable[[], Awaitable[None]]] = (),
) -> Response:
    """JSON for a whole answer (a model, or the typed dict of an inference answer); SSE for a
    stream, running `on_close` when the stream ends."""
    if isinstance(result, BaseModel):
        # pydantic writes the JSON itself, without building the dicts first.
        return Response(result.model_dump_json(), media_type="application/json")
    if isinstance(result, Mapping):
        return Response(orjson.dumps(result), media_type="application/json")
    return _EventStream(
        on_close, _errors_as_events(result), media_type="text/event-stream", headers=_SSE_HEADERS
    )


async def _errors_as_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """A stream that fails after it began ends with an error event (OpenAI's shape), since
    its 200 status is already sent; the client is never switched to another model silently."""
    try:
        async for chunk in chunks:
            yield chunk
    except CorralError as exc:
        logger.warning("stream ended by an error", extra={"code": exc.code})
        yield sse.event(envelope(exc))


class _EventStream(StreamingResponse):
    def __init__(
        self, on_close: Sequence[Callable[[], Awaitable[None]]], *args: Any, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Streams in this task and stops when the client leaves. (Starlette's own way, for
        servers of ASGI spec < 2.4 such as uvicorn, runs an anyio task group per stream: a
        cost the size of the rest of a streamed request's overhead.)"""
        try:
            await until_client_leaves(receive, self.stream_response(send))
        except ClientClosedRequest:
            pass  # nobody is left to tell
        finally:
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                await close()  # the upstream connection goes back now, not when collected
            for callback in self._on_close:
                await callback()

    async def stream_response(self, send: Send) -> None:
        start = {"type": "http.response.start", "status": self.status_code}
        await send({**start, "headers": self.raw_headers})
        frames = _Frames(send)
        try:
            async for frame in self.body_iterator:
                await frames.write(frame.encode() if isinstance(frame, str) else bytes(frame))
            await frames.end()
        finally:
            frames.stop()


class _Frames:
    """A stream's frames, sent together when several are ready at once.

    Frames made in one turn of the event loop (an upstream read that brought several events,
    as a fast model or a batching server does) go out as one write at the end of that turn
    instead of one write each: a write is a trip through the server and a system call, and
    with one per frame a short stream cost far more CPU than a whole answer. The last
    frames ride on the message that ends the body. A client that reads slowly holds back the
    producer: while a write waits for the socket to drain, the next frame waits for it.
    """

    __slots__ = ("_flushing", "_kicked", "_loop", "_ready", "_send")

    def __init__(self, send: Send) -> None:
        self._send = send
        self._ready: list[bytes] = []
        self._kicked = False
        self._flushing: asyncio.Task[None] | None = None
        self._loop = asyncio.get_running_loop()

    async def write(self, frame: bytes) -> None:
        if self._flushing is not None:
            if not self._flushing.done():
                await asyncio.shield(self._flushing)  # the socket is full: wait for it
            self._flushing.result()  # a failed write fails the stream
            self._flushing = None
        self._ready.append(frame)
        if not self._kicked:
            self._kicked = True
            self._loop.call_soon(self._kick)

    async def end(self) -> None:
        """Send what is left with the end of the body."""
        if self._flushing is not None:
            await self._flushing
        body, self._ready = b"".join(self._ready), []
        await self._send({"type": "http.response.body", "body": body, "more_body": False})

    def stop(self) -> None:
        if self._flushing is not None:
            self._flushing.cancel()

    def _kick(self) -> None:
        """The end of the turn in which frames were made: send them, unless the body ended."""
        self._kicked = False
        if self._ready and self._flushing is None:
            self._flushing = self._loop.create_task(self._flush())

    async def _flush(self) -> None:
        while self._ready:
            body, self._ready = b"".join(self._ready), []
            await self._send({"type": "http.response.body", "body": body, "more_body": True})


async def until_client_leaves(receive: Receive, work: Awaitable[T]) -> T:
    """Await `work`, cancelling it if the client disconnects first (`ClientClosedRequest`).

    A handler that is still computing a whole answer would otherwise keep running; cancelling
    it frees the model for the next request. Call this after the body has been read: from
    then on `receive()` only reports a disconnect. `work` runs in the caller's own task (a
    second task for it would cost every request); a watcher cancels that task when the
    client leaves. The watcher starts only once `work` has taken `WATCH_AFTER_S`: most
    answers through a gateway come sooner, and a task each for them would cost every proxied
    request CPU (bench/results/design_figures.md) to notice a disconnect a little earlier.
    """
    task = asyncio.current_task()
    assert task is not None, "called from a task"
    watch = _DisconnectWatch(receive, task)
    try:
        return await work
    except asyncio.CancelledError:
        if watch.client_left and task.uncancel() == 0:  # our own cancel, not the server's
            raise ClientClosedRequest(
                "The client closed the connection before the answer was ready."
            ) from None
        raise
    finally:
        watch.stop()


WATCH_AFTER_S = 0.02
"""How long a request runs before its client's connection is watched for a disconnect."""


class _DisconnectWatch:
    """Cancels `task` when `receive()` reports that the client left, from `WATCH_AFTER_S` on."""

    __slots__ = ("_receive", "_task", "_timer", "_watcher", "client_left")

    def __init__(self, receive: Receive, task: asyncio.Task[Any]) -> None:
        self._receive = receive
        self._task = task
        self._watcher: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = task.get_loop().call_later(
            WATCH_AFTER_S, self._start
        )
        self.client_left = False

    def _start(self) -> None:
        self._timer = None
        self._watcher = self._task.get_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self.client_left = True
        self._task.cancel()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._watcher is not None:
            self._watcher.cancel()
        self._timer = self._watcher = None  # nothing of this request is kept past it
