"""`corral serve`: run the HTTP server."""

from __future__ import annotations

import logging
import os
import secrets
import socket
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr

from corral.accounts.keys import load_or_create_secret
from corral.cli.common import ConfigOption
from corral.errors import ConfigError
from corral.observability import logging as corral_logging
from corral.server import cpu_budget, supervisor
from corral.settings import Settings, load_settings

logger = logging.getLogger("corral.serve")
ADMIN_KEY_FILE = "admin.key"


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind. [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on. [default: 8080]")] = None,
    workers: Annotated[
        int, typer.Option(help="Worker processes on the one port (needs CORRAL_REDIS_URL).", min=1)
    ] = 1,
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
    if workers > 1 and settings.redis_url is None:
        raise ConfigError(
            "--workers needs CORRAL_REDIS_URL: per-key rate limits must be counted in one "
            "place, or each worker would allow the whole limit"
        )
    oversubscribed = cpu_budget.check(settings, workers)
    if oversubscribed is not None:
        logger.warning(oversubscribed)
    _prepare_worker_environment(settings, config, resolve_admin_key(settings))
    _supervise(settings, workers)


def _supervise(settings: Settings, workers: int) -> None:
    """Workers (one by default) under a supervisor that restarts any that dies. This process
    binds the port, then becomes the supervisor (`exec`, the socket kept open): a small process
    that loads no models and none of this one's modules; each worker builds the app itself."""
    listener = _bind(settings.server.host, settings.server.port)
    logger.info(
        "listening",
        extra={"url": f"http://{_url_host(settings.server.host)}:{listener.getsockname()[1]}"},
    )
    for handler in logging.getLogger().handlers:
        handler.flush()
    command = supervisor.command(listener.fileno(), workers, settings.server.log_level)
    os.execv(command[0], command)


_BACKLOG = 2048


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, inherited by the supervisor and its workers. It listens from
    here on: a client that connects while a worker (re)starts waits instead of being refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise ConfigError(f"cannot listen on {_url_host(host)}:{port}: {exc.strerror}") from None
    listener.listen(_BACKLOG)
    listener.set_inheritable(True)
    return listener


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _prepare_worker_environment(
    settings: Settings, config: Path | None, admin_key: SecretStr
) -> None:
    """Each worker reads the same settings from the environment. The admin key is resolved
    once here so that no worker makes up its own. What the workers share must live outside
    them: the database, and with several workers Redis for the rate-limit counters."""
    os.environ["CORRAL_ADMIN_KEY"] = admin_key.get_secret_value()
    os.environ["CORRAL_SERVER__HOST"] = settings.server.host
    os.environ["CORRAL_SERVER__PORT"] = str(settings.server.port)
    if config is not None:
        os.environ["CORRAL_CONFIG"] = str(config.resolve())


def resolve_admin_key(settings: Settings) -> SecretStr:
    """`CORRAL_ADMIN_KEY` if set; else a key generated once and kept in `CORRAL_HOME`."""
    if settings.admin_key is not None:
        return settings.admin_key
    path = settings.home / ADMIN_KEY_FILE
    if not path.exists():
        logger.warning("generating an admin key", extra={"admin_key_file": str(path)})
    key = load_or_create_secret(path, "sk-corral-" + secrets.token_urlsafe(32))
    return SecretStr(key)
