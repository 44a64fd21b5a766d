"""A console to test against: the app `corral serve` runs (`create_app` over `build_services`),
served by uvicorn on loopback, with the embedded model and an echo model (whose answer is the
user's last message, so a test controls exactly what "the model" writes), the echo model
again under a gated licence, and two tenants."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from pydantic import SecretStr

from corral.api.app import create_app
from corral.catalog import Catalog, ModelEntry
from corral.services import build_catalog, build_services
from corral.settings import load_settings
from tests.providers.server import serving
from tests.support import ADMIN_KEY, echo_entry

ECHO = "echo"
GATED = "gated-echo"
LICENCE = {
    "id": "llama-community",
    "version": "3.1",
    "name": "Llama 3.1 Community License",
    "requires_acceptance": True,
    "gated": True,
}


@dataclass
class Tenant:
    id: str
    name: str
    key: str
    key_id: str


@dataclass
class Console:
    base_url: str
    tenants: dict[str, Tenant]
    home: Path

    @property
    def url(self) -> str:
        return self.base_url + "/console"

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
        )


@contextmanager
def running_console(
    home: Path, embedded: bool = True, extra: Sequence[ModelEntry] = (), **settings: Any
) -> Iterator[Console]:
    settings.setdefault("licences", [LICENCE])
    loaded = load_settings(home=home, embedded_model=embedded, **settings)
    entries = build_catalog(loaded).entries() if embedded else []
    # Priced, so that the usage page has a cost to show: 2 and 4 units per million tokens.
    echo = echo_entry(ECHO, context_length=100_000, prices=(2_000_000, 4_000_000))
    # Under a licence to accept and gated: the licences page and the operator's queue.
    gated = echo_entry(GATED, context_length=100_000, licence=LICENCE["id"])
    catalog = Catalog([*entries, echo, gated, *extra], {})
    services = build_services(loaded, SecretStr(ADMIN_KEY), catalog=catalog)
    with serving(create_app(services), lifespan="on") as base_url:
        console = Console(base_url, {}, home)
        with console.admin() as admin:
            for name in ("acme", "globex"):
                console.tenants[name] = _tenant(admin, name)
        yield console


def _tenant(admin: httpx.Client, name: str) -> Tenant:
    tenant = admin.post("/admin/tenants", json={"name": name, "budget": "5.00"})
    tenant.raise_for_status()
    key = admin.post("/admin/keys", json={"tenant": name, "name": "console"})
    key.raise_for_status()
    body = key.json()
    return Tenant(tenant.json()["id"], name, body["key"], body["id"])


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "the page carries no CSRF token"
    return match.group(1)


@contextmanager
def signed_in(console: Console, key: str) -> Iterator[httpx.Client]:
    """An HTTP client holding a console session (as a browser would, cookie and all)."""
    with httpx.Client(base_url=console.base_url, timeout=60) as client:
        response = client.post("/console/sign-in", data={"key": key})
        assert response.status_code == 303, response.text
        yield client


def new_conversation(client: httpx.Client, model: str = ECHO, system: str = "") -> str:
    csrf = csrf_of(client.get("/console/chat").text)
    response = client.post(
        "/console/chat/new", data={"csrf": csrf, "model": model, "system_prompt": system}
    )
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def send_turn(client: httpx.Client, path: str, content: str, **fields: Any) -> list[dict[str, Any]]:
    """The chunks of one streamed turn on the echo model; `fields` are the composer's settings
    (temperature, max_tokens)."""
    csrf = csrf_of(client.get(path).text)
    chunks = []
    with client.stream(
        "POST",
        path + "/messages",
        json={"content": content, "model": ECHO, **fields},
        headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: {"):
                chunks.append(orjson.loads(line[6:]))
    return chunks
