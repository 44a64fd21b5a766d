"""Starting real `corral serve` processes for the end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from corral.catalog import Catalog, ModelEntry
from corral.services import Services, build_services
from corral.settings import load_settings
from tests.fakes import EchoBackend

MODEL = "smollm2-135m-instruct"
ADMIN_KEY = "sk-test-admin-key"
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


NO_JOB_WORKER = {"CORRAL_JOBS__WORKER_IN_SERVER": "false"}
"""The tests' servers run no job worker unless a test asks for one (`worker_in_server=true`):
dozens of servers polling the jobs of their SQLite databases would only add load."""


def corral_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}
    env.update(CORRAL_HOME=str(home), CORRAL_ADMIN_KEY=ADMIN_KEY, **NO_JOB_WORKER)
    env.update(extra)
    return env


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    port: int
    home: Path
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def log_once_it_has(self, text: str, timeout_s: float = 5.0) -> str:
        """The log, once `text` is in it (or the timeout passed): a request's access line is
        written after its response has gone out, so a client may read the log before it."""
        deadline = time.monotonic() + timeout_s
        while text not in (log := self.log_text()) and time.monotonic() < deadline:
            time.sleep(0.02)
        return log

    def worker_pids(self) -> list[int]:
        """The processes serving requests: children of `corral serve`, which supervises them.
        Measure memory here, not on `process`."""
        found = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            found += [int(child) for child in (task / "children").read_text().split()]
        return found

    def kill(self) -> None:
        """Kills `corral serve` and its workers at once: a wedged worker cannot hold it up, and
        none is left behind serving the port."""
        workers = self.worker_pids() if self.process.poll() is None else []
        self.process.kill()
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(
    home: Path, config_toml: str | None = None, env: dict[str, str] | None = None
) -> RunningServer:
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [sys.executable, "-m", "corral", "serve", "--port", str(port)]
    if config_toml is not None:
        config = home / "corral.toml"
        config.write_text(config_toml)
        args += ["--config", str(config)]
    log = home / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, env=corral_env(home, **(env or {})), stdout=out, stderr=subprocess.STDOUT
        )
    server = RunningServer(process, port, home, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"corral serve exited early:\n{server.log_text()}")
        try:
            if httpx.get(f"{server.base_url}/readyz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"corral serve was not ready in {START_TIMEOUT_S} s:\n{server.log_text()}")


def echo_entry(model_id: str = "echo", **fields: Any) -> ModelEntry:
    """A catalog entry served by the in-process `EchoBackend`."""
    values: dict[str, Any] = {
        "id": model_id,
        "tier": "open",
        "licence": None,
        "context_length": 100,
        "created": 0,
        "owned_by": "tests",
        "backend": EchoBackend(),
    }
    values.update(fields)
    return ModelEntry(**values)


def in_process_services(home: Path, *entries: ModelEntry, **settings: Any) -> Services:
    """The real services (SQLite in `home`, or `database_url=...`) over the given models."""
    settings.setdefault("jobs", {"worker_in_server": False})  # as `NO_JOB_WORKER`
    loaded = load_settings(home=home, embedded_model=False, **settings)
    routes = {route.name: route.models for route in loaded.routes}
    return build_services(loaded, SecretStr(ADMIN_KEY), catalog=Catalog(list(entries), routes))


def pdf_strings(body: bytes) -> list[str]:
    """The text an uncompressed PDF shows, one string per cell, in page order (our invoices
    are written uncompressed, in a built-in Latin-1 font, so no PDF reader is needed)."""
    assert body.startswith(b"%PDF-"), body[:20]
    return [s.decode("latin-1") for s in re.findall(rb"\((.*?)\) Tj", body)]
