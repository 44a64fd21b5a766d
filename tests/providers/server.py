"""Run a fake provider (an ASGI app) on a free loopback port in a background thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from tests.support import free_port


@contextmanager
def serving(app: Any, **options: Any) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 until the block ends; yields its base URL. `options` go to
    uvicorn (`ssl_certfile` and `ssl_keyfile` serve https, as `https://localhost:<port>`)."""
    port = free_port()
    options = {"lifespan": "off", **options}  # an app with start-up work passes "on"
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake provider did not start")
        time.sleep(0.01)
    try:
        yield (
            f"https://localhost:{port}"
            if options.get("ssl_certfile")
            else f"http://127.0.0.1:{port}"
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)
