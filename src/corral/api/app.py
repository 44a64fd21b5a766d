"""The ASGI application: wires settings, catalog, pipeline and routes together, once, at start."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pydantic import SecretStr

from corral import __version__
from corral.api import errors
from corral.api.chat.router import router as chat_router
from corral.api.completions.router import router as completions_router
from corral.api.deps import Services
from corral.api.embeddings.router import router as embeddings_router
from corral.api.health import router as health_router
from corral.api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from corral.api.models.router import router as models_router
from corral.backends import registry
from corral.catalog import Catalog, build_model_configs
from corral.catalog.catalog import entry_for
from corral.observability.metrics import Metrics
from corral.pipeline.auth import Authenticator
from corral.pipeline.gateway import Gateway
from corral.settings import Settings

logger = logging.getLogger("corral.app")


def build_services(settings: Settings, admin_key: SecretStr) -> Services:
    metrics = Metrics()
    entries = []
    for config in build_model_configs(settings):
        built = registry.build(config)
        entries.append(entry_for(config, built.backend, built.context_length))
    catalog = Catalog(entries)
    metrics.watch_queue_depth(
        lambda: {e.id: e.backend.health().queue_depth for e in catalog.entries()}
    )
    return Services(
        settings=settings,
        gateway=Gateway(catalog, metrics),
        authenticator=Authenticator(admin_key),
        metrics=metrics,
    )


def create_app(services: Services) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        backends = [entry.backend for entry in services.gateway.catalog.entries()]
        if services.settings.server.load_models == "start":
            await asyncio.gather(*(backend.start() for backend in backends))
        services.ready = True
        logger.info("ready", extra={"models": [e.id for e in services.gateway.catalog.entries()]})
        yield
        services.ready = False
        await asyncio.gather(*(backend.close() for backend in backends))

    app = FastAPI(title="corral", version=__version__, lifespan=lifespan)
    app.state.services = services
    errors.install(app)
    for router in (
        chat_router,
        completions_router,
        embeddings_router,
        models_router,
        health_router,
    ):
        app.include_router(router)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=services.settings.server.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=services.metrics)
    return app
