"""`Idempotency-Key` on the inference endpoints: one run, one bill, the same answer on retry.

The store (`metering.idempotency_store`) holds claims and answers; this wraps a route so that a
retry is answered from the store, a streamed answer is recorded as it goes out, and a request
that ends without an answer gives its key back.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from corral.api import sse
from corral.api.streaming import Answer, respond, until_client_leaves
from corral.metering.idempotency_store import StoredResponse, request_hash
from corral.pipeline.gateway import RequestContext
from corral.services import Services

HEADER = "idempotency-key"
STORED_HEADER = "Idempotency-Stored"


async def idempotent(
    http: Request,
    ctx: RequestContext,
    services: Services,
    produce: Callable[[], Awaitable[Response]],
    authorize: Callable[[], Awaitable[object]],
) -> Response:
    """`authorize` runs the checks a new request would pass (entitlement, the key's scope)
    before the store is looked at: a stored answer is only for whom may ask anew."""
    key = http.headers.get(HEADER)
    if key is None:
        return await produce()
    await authorize()
    store, db = services.idempotency, services.db
    owner = ctx.principal.tenant_id or "admin"
    digest = request_hash(http.method, http.url.path, await http.body())
    stored = await db.run(store.claim, owner, key, digest)
    if stored is not None:
        return Response(
            stored.body,
            status_code=stored.status_code,
            media_type=stored.content_type,
            headers={"Idempotent-Replayed": "true"},
        )
    try:
        response = await produce()
    except BaseException:
        await db.run(store.release, owner, key)
        raise
    if isinstance(response, StreamingResponse):
        # The stream's own frames, taken before it is replaced (read from the response at
        # each step, `_recorded` would read itself).
        frames = response.body_iterator
        response.body_iterator = _recorded(frames, response, services, owner, key)
        return response
    answer = StoredResponse(response.status_code, _content_type(response), bytes(response.body))
    if not await db.run(store.complete, owner, key, answer):
        response.headers[STORED_HEADER] = "false"  # too large to keep: a retry cannot replay it
    return response


async def _recorded(
    frames: AsyncIterable[str | bytes | memoryview],
    response: StreamingResponse,
    services: Services,
    owner: str,
    key: str,
) -> AsyncIterator[bytes]:
    """The stream's frames as they go out, kept (within the limits) once it has ended whole:
    with `data: [DONE]`. One cut short by an error event gives its key back, as a request that
    failed before its answer does, so that a retry runs again instead of replaying the error."""
    chunks: list[bytes] = []
    stored = False
    store, db = services.idempotency, services.db
    try:
        async for chunk in frames:
            data = chunk.encode() if isinstance(chunk, str) else bytes(chunk)
            chunks.append(data)
            if data.endswith(sse.DONE):
                # Kept before the end goes out: a client that retries as soon as it has read
                # `[DONE]` is then replayed, never told that the request is still running.
                body = b"".join(chunks)
                answer = StoredResponse(response.status_code, _content_type(response), body)
                await db.run(store.complete, owner, key, answer)
                stored = True
            yield data
    finally:
        close = getattr(frames, "aclose", None)
        if close is not None:
            await close()  # the upstream connection goes back now, not when collected
        if not stored:
            await db.run(store.release, owner, key)


def _content_type(response: Response) -> str:
    return response.headers.get("content-type", "application/json")


async def serve_inference(
    http: Request,
    ctx: RequestContext,
    services: Services,
    work: Callable[[], Awaitable[Answer]],
    model: str,
) -> Response:
    """The common tail of the inference routes: idempotency, disconnect watch, response.
    `model` is what the request names, checked for the caller before any replay."""

    async def produce() -> Response:
        return await respond(await until_client_leaves(http.receive, work()), ctx.cleanups)

    async def authorize() -> object:
        return await services.gateway.resolve(ctx, model)

    return await idempotent(http, ctx, services, produce, authorize)
