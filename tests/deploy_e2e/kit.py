"""A one-machine scale-out deployment, started as an operator would start it.

Two inference replicas (llama-cpp-python's OpenAI-compatible server on the embedded GGUF,
standing in for vLLM) are one `openai-compatible` model of two gateways that share PostgreSQL,
Redis and one key secret; nginx on loopback balances the gateways. Every process is the test's
own child, stopped when the `deploy` block ends, however it ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.accounts_kit import KEY_SECRET, start_servers
from tests.support import RunningServer, free_port

MODEL_NAME = "vllm-small"
UPSTREAM_ALIAS = "smollm2"
INPUT_PRICE = 1
"""Per million prompt tokens: 1 micro-unit a token."""
OUTPUT_PRICE = 100
"""Per million completion tokens: 100 micro-units a token."""
READY_TIMEOUT_S = 90.0
SERVED_BY = "x-served-by"
"""The header nginx adds to every answer: which gateway (address:port) it came from."""


@dataclass
class Child:
    """A long-running process of the deployment, its port and its log."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Deployment:
    nginx: Child
    replicas: list[Child]
    gateways: list[RunningServer]
    database_url: str
    home: Path

    @property
    def base_url(self) -> str:
        """Where clients go: nginx, never a gateway directly."""
        return f"{self.nginx.base_url}/v1"

    def gateway_addresses(self) -> set[str]:
        return {f"127.0.0.1:{gateway.port}" for gateway in self.gateways}


# -- nginx -------------------------------------------------------------------------------------


def nginx_binary() -> str:
    """nginx from Debian's packages, installed quietly on a machine that lacks it."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends"]
    install += ["-o", "DPkg::Lock::Timeout=300", "nginx-light"]
    done = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:  # the package lists may be stale on a fresh machine
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        done = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if found is None:
        raise RuntimeError(
            "nginx is missing and `apt-get install nginx-light` failed; install it by hand "
            f"(as root: apt-get update && apt-get install -y nginx-light):\n{done.stderr}"
        )
    return found


def nginx_conf(root: Path, port: int, upstreams: list[int]) -> str:
    """Round robin over the gateways, no buffering (streams pass through as they come)."""
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=0;" for p in upstreams)
    temp = "\n".join(
        f"    {kind}_temp_path {root / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""worker_processes 1;
error_log {root / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    access_log {root / "access.log"};
{temp}
    upstream corral {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://corral;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 300s;
            add_header {SERVED_BY} $upstream_addr always;
        }}
    }}
}}
"""


def start_nginx(root: Path, upstreams: list[int]) -> Child:
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(nginx_conf(root, port, upstreams))
    args = [nginx_binary(), "-p", str(root), "-e", str(root / "error.log"), "-c", str(conf)]
    args += ["-g", f"daemon off; pid {root / 'nginx.pid'};"]
    child = _spawn("nginx", args, port, root / "nginx.out")
    _wait_ready(child, f"{child.base_url}/readyz")
    return child


# -- inference replicas ------------------------------------------------------------------------


def start_replica(root: Path, name: str, model_path: Path) -> Child:
    """llama-cpp-python's server on the embedded model, answering as `UPSTREAM_ALIAS`."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path)]
    args += ["--model_alias", UPSTREAM_ALIAS, "--host", "127.0.0.1", "--port", str(port)]
    args += ["--interrupt_requests", "False", "--n_ctx", "2048"]
    return _spawn(name, args, port, root / f"{name}.log")


def replica_table(replicas: list[Child]) -> str:
    """The one `[[models]]` entry behind which the replicas serve, equally weighted."""
    servers = ", ".join(
        f'{{ base_url = "{replica.base_url}/v1", weight = 1 }}' for replica in replicas
    )
    return f"""[[models]]
name = "{MODEL_NAME}"
tier = "premium"
backend = "openai-compatible"
upstream_model = "{UPSTREAM_ALIAS}"
replicas = [{servers}]
input_price_per_mtok = "{INPUT_PRICE}"
output_price_per_mtok = "{OUTPUT_PRICE}"
timeout_s = 60

[routing]
attempts_per_backend = 1
"""


# -- the whole deployment ----------------------------------------------------------------------


@contextmanager
def deploy(
    root: Path, model_path: Path, database_url: str, redis: tuple[str, str]
) -> Iterator[Deployment]:
    """Replicas, then gateways on them, then nginx in front; all stopped at the end."""
    with ExitStack() as running:
        replicas = [start_replica(root / "replicas", f"replica-{n}", model_path) for n in "ab"]
        for replica in replicas:
            running.callback(replica.stop)
        for replica in replicas:
            _wait_ready(replica, f"{replica.base_url}/v1/models")
        env = {
            "CORRAL_DATABASE_URL": database_url,
            "CORRAL_KEY_SECRET": KEY_SECRET,
            "CORRAL_REDIS_URL": redis[0],
            "CORRAL_REDIS_NAMESPACE": redis[1],
        }
        homes = [root / "gateway-a", root / "gateway-b"]
        gateways = start_servers(homes, replica_table(replicas), env)
        for gateway in gateways:
            running.callback(gateway.stop)
        nginx = start_nginx(root / "nginx", [gateway.port for gateway in gateways])
        running.callback(nginx.stop)
        yield Deployment(nginx, replicas, gateways, database_url, root)


def _spawn(name: str, args: list[str], port: int, log: Path) -> Child:
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    return Child(name, process, port, log)


def _wait_ready(child: Child, url: str) -> None:
    """Poll `url` until it answers; stop the child and raise with its log if it never does."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            raise RuntimeError(f"{child.name} exited early:\n{child.log_text()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    child.stop()
    raise RuntimeError(f"{child.name} was not ready in {READY_TIMEOUT_S} s:\n{child.log_text()}")
