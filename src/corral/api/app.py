"""The ASGI application: the services (`corral.services`) behind the routes and middleware."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from starlette.types import ASGIApp
from uvicorn.config import STARTUP_FAILURE

from corral import __version__
from corral.api import console, docs, errors, openapi, worker_memory
from corral.api.access.router import router as access_router
from corral.api.admin.router import router as admin_router
from corral.api.audit.router import router as audit_router
from corral.api.chat.router import router as chat_router
from corral.api.completions.router import router as completions_router
from corral.api.embeddings.router import router as embeddings_router
from corral.api.evals.router import router as evals_router
from corral.api.files.router import UPLOAD_PATH
from corral.api.files.router import router as files_router
from corral.api.fine_tuning.router import router as fine_tuning_router
from corral.api.health import router as health_router
from corral.api.hot_routes import HotRoutes, post_routes
from corral.api.job_worker import ServerWorker
from corral.api.licences.router import router as licences_router
from corral.api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from corral.api.models.router import router as models_router
from corral.api.responses.router import router as responses_router
from corral.api.tasks.router import router as tasks_router
from corral.api.usage.router import router as usage_router
from corral.errors import ConfigError
from corral.services import Services, build_services
from corral.settings import load_settings

logger = logging.getLogger("corral.app")
_JOBS_STOP_S = 10.0
"""How long shutdown waits for the job worker to give its job back (a training step under way
in its thread is not waited for: the step is done again on resume)."""


async def _sweep(services: Services, every_s: float = 30.0) -> None:
    """Release budget holds and idempotency claims left by crashed processes."""
    while True:
        try:
            await services.db.run(services.ledger.sweep_expired)
            await services.db.run(services.idempotency.sweep_expired)
            if services.pending is not None:  # streams whose settlement was never written
                await services.pending.expire()
            await services.db.run(services.audit.purge_expired)
        except Exception:
            logger.exception("sweeping expired reservations failed")
        await asyncio.sleep(every_s)


async def _tidy_reservations(services: Services, every_s: float = 0.5) -> None:
    """Give idle budget reservations back, renew the others (see `metering.reservations`)."""
    while True:
        try:
            await services.reservations.tidy()
        except Exception:
            logger.exception("tidying budget reservations failed")
        await asyncio.sleep(every_s)


async def _refresh_models(services: Services, every_s: float = 5.0) -> None:
    """Read the tenants' fine-tuned models again: made or deleted by another process (a job
    worker, another server), they are served or gone here within this time."""
    while True:
        try:
            await services.gateway.catalog.refresh()
        except Exception:
            logger.exception("reading the fine-tuned models failed")
        await asyncio.sleep(every_s)


def worker_app() -> ASGIApp:
    """One worker of `corral serve`: settings (and the admin key) from the
    environment its parent prepared."""
    from corral.observability import logging as corral_logging

    worker_memory.limit_arenas()
    settings = load_settings()
    corral_logging.configure(settings.server.log_level)
    assert settings.admin_key is not None, "the parent process sets CORRAL_ADMIN_KEY"
    try:
        app = create_app(build_services(settings, settings.admin_key))
    except ConfigError as exc:
        # Every worker would fail the same way: tell the supervisor not to start another.
        logger.error("cannot start: %s", exc)
        sys.exit(STARTUP_FAILURE)
    freeze_startup_objects()
    return app


_YOUNG_COLLECTION_THRESHOLD = 7_000


def freeze_startup_objects() -> None:
    """For a server process, once its app is built: what exists now (modules, schemas, the
    catalog) lives as long as the process, so the garbage collector stops walking it, and its
    passes over what requests allocate stay short.

    The youngest generation is also collected ten times less often than Python's default (700
    container allocations): a request leaves no reference cycles, so at the default the
    collector ran many times a second under load only to walk requests still in flight
    (figures in bench/results/design_figures.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(_YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])


def _lifespan(services: Services) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start: the models, the accounts cache, the background loops, the job worker. Stop: the
    job worker first (its job given back while the database is open), then the rest."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        backends = [entry.backend for entry in services.gateway.catalog.configured()]
        if services.settings.server.load_models == "start":
            await asyncio.gather(*(backend.start() for backend in backends))
        await services.directory.refresh()
        background = [
            asyncio.create_task(services.directory.watch()),
            asyncio.create_task(_sweep(services)),
            asyncio.create_task(_tidy_reservations(services)),
            asyncio.create_task(_refresh_models(services)),
        ]
        jobs = ServerWorker.build(services) if services.settings.jobs.worker_in_server else None
        if jobs is not None:
            background.append(asyncio.create_task(jobs.run()))
        services.ready = True
        worker_memory.release_free_memory()  # what starting freed: the models are in memory now
        logger.info("ready", extra={"models": [e.id for e in services.gateway.catalog.entries()]})
        yield
        services.ready = False
        if jobs is not None:
            jobs.stop()
            await asyncio.wait(background[-1:], timeout=_JOBS_STOP_S)
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        try:
            await services.reservations.give_back_all()
        except Exception:  # they expire and are swept instead
            logger.exception("giving budget reservations back at shutdown failed")
        await services.aclose()

    return lifespan


def create_app(services: Services) -> ASGIApp:
    """The FastAPI app inside the middleware every request passes, the inference routes
    answered before FastAPI's own stack (`hot_routes`)."""

    api = FastAPI(
        title="corral",
        version=__version__,
        lifespan=_lifespan(services),
        telemetry=_NO_OTEL,
        docs_url=None,  # FastAPI's pages load from a CDN; `docs` serves local copies, if any
        redoc_url=None,
    )
    api.state.services = services
    docs.install(api, services.settings.server.api_docs_assets)
    errors.install(api)
    routers = (
        chat_router,
        completions_router,
        embeddings_router,
        responses_router,
        files_router,
        evals_router,
        fine_tuning_router,
        access_router,
        models_router,
        licences_router,
        usage_router,
        audit_router,
        tasks_router,
        admin_router,
        health_router,
    )
    for router in routers:
        api.include_router(router)
    inference = (chat_router, completions_router, embeddings_router, responses_router, tasks_router)
    openapi.install(api, routers, inference)
    console.install(api, services)
    hot = HotRoutes(api, post_routes((chat_router, completions_router, embeddings_router)))
    limited = BodySizeLimitMiddleware(
        hot, max_bytes=services.settings.server.max_body_bytes, exempt=(UPLOAD_PATH,)
    )
    return RequestContextMiddleware(limited, metrics=services.metrics)


# corral has its own metrics and logs; FastAPI's OpenTelemetry would otherwise look for
# providers on every request.
_NO_OTEL: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
