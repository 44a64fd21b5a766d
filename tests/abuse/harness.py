"""What the abuse cases run against: a real `corral serve` with the embedded model and a partner
model (the fake OpenAI provider), an abusive tenant and a well-behaved one, the server's memory
read from /proc, and the well-behaved tenant's streamed chat running beside each case."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from corral.settings import load_settings
from tests.providers.partner_kit import GPT_MINI, OPENAI_ENV
from tests.support import ADMIN_KEY, MODEL, RunningServer, start_server

PARTNER = "gpt-mini"
CONFIG = (
    """
# Two instances of the embedded model, at most one per tenant: one tenant's long task (a chunk
# call may read a full context for a minute on a small CPU) leaves the other free.
[[models]]
name = "smollm2-135m-instruct"
backend = "llama-cpp"
path = "{model}"
tier = "open"
licence = "apache-2.0"
instances = 2
max_per_tenant = 1
"""
    + GPT_MINI
)
WARM_UP_TIMEOUT_S = 300.0
VICTIM_LIMIT_S = 15.0
"""A healthy 32-token stream takes a second or two; a frozen or queued-up server takes longer."""
SETTLE_S = 8.0
RSS_MARGIN = 1.10


@dataclass
class Outcome:
    """One answer an abusive request got (status 0: no answer in time)."""

    what: str
    status: int
    param: str | None = None
    message: str = ""
    expected_param: str | None = None
    """For a limit refusal: the parameter its error must name."""

    @classmethod
    def of(cls, what: str, response: httpx.Response, expected_param: str | None = None) -> Outcome:
        error: dict[str, Any] = {}
        try:
            body = response.json()
            if isinstance(body, dict) and isinstance(body.get("error"), dict):
                error = body["error"]
        except json.JSONDecodeError:
            pass
        return cls(
            what,
            response.status_code,
            error.get("param"),
            str(error.get("message", "")),
            expected_param,
        )


@dataclass
class Tenants:
    abuser: str
    victim: str


class Harness:
    """One `corral serve`, restarted (same home, same tenants) when a case killed or soiled it."""

    def __init__(self, home: Path, provider_url: str) -> None:
        self.home = home
        self.config = CONFIG.format(url=provider_url, model=load_settings().embedded_model_path)
        self.server = self._start()
        self.workers: list[int] = []
        try:
            self.tenants = self._tenants()
            self.baseline_kb = self._warm_up()
        except BaseException:
            self.stop()  # no fixture will: the harness was never handed out
            raise
        self.dirty = False

    def _start(self) -> RunningServer:
        return start_server(self.home, self.config, OPENAI_ENV)

    @property
    def url(self) -> str:
        return self.server.base_url

    def alive(self) -> bool:
        """The supervisor runs and its worker is the one warmed up: a worker that crashed and
        was replaced by the supervisor counts as a crash."""
        if self.server.process.poll() is not None:
            return False
        return sorted(self.server.worker_pids()) == self.workers

    def ready_for_a_case(self) -> None:
        if self.alive() and not self.dirty:
            return
        self.stop()
        self.server = self._start()
        self.baseline_kb = self._warm_up()
        self.dirty = False

    def stop(self) -> None:
        self.server.kill()

    def _tenants(self) -> Tenants:
        keys = []
        with httpx.Client(base_url=self.url, headers=auth(ADMIN_KEY), timeout=10) as api:
            for name in ("abuser", "victim"):
                api.post("/admin/tenants", json={"name": name}).raise_for_status()
                created = api.post("/admin/keys", json={"tenant": name})
                created.raise_for_status()
                keys.append(created.json()["key"])
        return Tenants(*keys)

    def _warm_up(self) -> int:
        """The model loaded and each kind of call served, on each instance (a long prompt from
        each tenant at once), and a batch embedded: then the baseline memory."""
        with ThreadPoolExecutor(2) as pool:
            for answer in pool.map(self._long_chat, (self.tenants.abuser, self.tenants.victim)):
                answer.raise_for_status()
        inputs = [f"sentence {i} " + "words " * 60 for i in range(16)]
        with httpx.Client(base_url=self.url, headers=auth(self.tenants.victim), timeout=60) as api:
            api.post("/v1/chat/completions", json=chat(PARTNER, "Hi", 4)).raise_for_status()
            embedded = api.post("/v1/embeddings", json={"model": MODEL, "input": inputs})
            embedded.raise_for_status()
        time.sleep(0.5)
        self.workers = sorted(self.server.worker_pids())
        return self.rss_kb()

    def _long_chat(self, key: str) -> httpx.Response:
        body = chat(MODEL, "The sea is wide. " * 400, 4)
        url = f"{self.url}/v1/chat/completions"
        # Two ~2,000-token prompts read at once: over a minute on a slow 2-core machine.
        return httpx.post(url, json=body, headers=auth(key), timeout=WARM_UP_TIMEOUT_S)

    def rss_kb(self) -> int:
        """The serving workers' memory (`corral serve` itself only supervises them)."""
        total = 0
        for pid in self.server.worker_pids():
            status = Path(f"/proc/{pid}/status").read_text()
            line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
            total += int(line.split()[1])
        return total

    def cpu_seconds(self, during_s: float) -> float:
        """The CPU time the serving workers use in the next `during_s` seconds."""

        def used() -> float:
            ticks = 0
            for pid in self.server.worker_pids():
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
            return ticks / os.sysconf("SC_CLK_TCK")

        before = used()
        time.sleep(during_s)
        return used() - before

    def settled_rss_kb(self) -> int:
        """The server's memory once it is back near its baseline, or after `SETTLE_S`."""
        deadline = time.monotonic() + SETTLE_S
        while (rss := self.rss_kb()) > self.baseline_kb * RSS_MARGIN:
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        return rss


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def chat(model: str, text: str, max_tokens: int, **fields: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": text}]
    return {"model": model, "messages": messages, "max_tokens": max_tokens, **fields}


def victim_stream(url: str, key: str) -> str:
    """The well-behaved tenant's streamed chat: "done", or what went wrong."""
    body = chat(MODEL, "Tell me about the sea.", 32, stream=True)
    started = time.monotonic()
    try:
        with (
            httpx.Client(timeout=VICTIM_LIMIT_S) as client,
            client.stream("POST", f"{url}/v1/chat/completions", json=body, headers=auth(key)) as r,
        ):
            if r.status_code != 200:
                return f"status {r.status_code}: {r.read()[:300]!r}"
            lines = []
            for line in r.iter_lines():
                lines.append(line)
                if time.monotonic() - started > VICTIM_LIMIT_S:
                    return f"still streaming after {VICTIM_LIMIT_S} s"
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__} after {time.monotonic() - started:.1f} s"
    if "data: [DONE]" not in lines:
        return "the stream ended without [DONE]"
    return "done"


@contextmanager
def beside_victim(harness: Harness, delay_s: float = 0.3) -> Iterator[Future[str]]:
    """Runs the victim's stream `delay_s` after the block starts, while the case runs."""
    with ThreadPoolExecutor(1) as pool:

        def delayed() -> str:
            time.sleep(delay_s)
            return victim_stream(harness.url, harness.tenants.victim)

        future = pool.submit(delayed)
        yield future
