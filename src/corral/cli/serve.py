"""`corral serve`: run the HTTP server."""

from __future__ import annotations

import logging
import secrets
from typing import Annotated, Any

import typer
import uvicorn
from pydantic import SecretStr

from corral.accounts.keys import load_or_create_secret
from corral.cli.common import ConfigOption
from corral.observability import logging as corral_logging
from corral.settings import Settings, load_settings

logger = logging.getLogger("corral.serve")
ADMIN_KEY_FILE = "admin.key"


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind. [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on. [default: 8080]")] = None,
    config: ConfigOption = None,
) -> None:
    """Serve the OpenAI-compatible API on the configured models."""
    server: dict[str, Any] = {}
    if host is not None:
        server["host"] = host
    if port is not None:
        server["port"] = port
    settings = load_settings(config, **({"server": server} if server else {}))
    corral_logging.configure(settings.server.log_level)
    admin_key = resolve_admin_key(settings)

    from corral.api.app import build_services, create_app

    app = create_app(build_services(settings, admin_key))
    uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.server.host,
            port=settings.server.port,
            loop="uvloop",
            http="httptools",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
        )
    ).run()


def resolve_admin_key(settings: Settings) -> SecretStr:
    """`CORRAL_ADMIN_KEY` if set; else a key generated once and kept in `CORRAL_HOME`."""
    if settings.admin_key is not None:
        return settings.admin_key
    path = settings.home / ADMIN_KEY_FILE
    if not path.exists():
        logger.warning("generating an admin key", extra={"admin_key_file": str(path)})
    key = load_or_create_secret(path, "sk-corral-" + secrets.token_urlsafe(32))
    return SecretStr(key)
