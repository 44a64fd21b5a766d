"""One worker of `corral serve`, started by the supervisor (`python -m corral.server.worker`):
it serves the app on the listening socket it inherits and answers the supervisor's health
checks over its own end of a socket pair. Its settings come from the environment `corral
serve` prepared; the app reads them again as it builds itself (`corral.api.app.worker_app`).
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading

import uvicorn

from corral.observability import logging as corral_logging
from corral.server.connections import GuardedConfig
from corral.server.supervisor import PING, READY, STARTING, STARTUP_FAILURE, die_with_parent
from corral.settings import load_settings


def answer_health_checks(health: socket.socket, server: uvicorn.Server) -> None:
    """Forever, in a thread of its own: one answer per ping, READY once the server serves."""
    while health.recv(1) == PING:
        health.sendall(READY if server.started else STARTING)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="corral serve (worker)")
    parser.add_argument("--listener", type=int, required=True)
    parser.add_argument("--health", type=int, required=True)
    parser.add_argument("--supervisor", type=int, required=True)
    args = parser.parse_args(argv)
    die_with_parent(args.supervisor)
    settings = load_settings()
    corral_logging.configure(settings.server.log_level)
    config = GuardedConfig(
        "corral.api.app:worker_app",
        factory=True,
        limits=settings.server.connections,
        host=settings.server.host,
        port=settings.server.port,
        loop="uvloop",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    health = socket.socket(fileno=args.health)
    threading.Thread(target=answer_health_checks, args=(health, server), daemon=True).start()
    listener = socket.socket(fileno=args.listener)
    server.run(sockets=[listener])
    return 0 if server.started else STARTUP_FAILURE


if __name__ == "__main__":
    sys.exit(main())
