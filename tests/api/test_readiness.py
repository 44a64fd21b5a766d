"""What `/readyz` and `/metrics` show to whom: a bare status for anyone (a load balancer), the
details for the operator's key, and never a tenant's private model or a URL's password to
someone without it. Readiness follows a dead Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from corral.api.app import create_app
from corral.services import Services, build_services
from corral.settings import load_settings
from tests.support import ADMIN_KEY

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
PARTNER = {
    "name": "vllm",
    "backend": "openai-compatible",
    "upstream_model": "llama",
    "base_url": "https://corral:hunter2@inference.internal:8000/v1",
}
SECRET_MODEL = {**PARTNER, "name": "acme-secret-finetune", "tier": "private", "owner": "acme"}
DEAD_REDIS = "redis://:hunter2@127.0.0.1:1/0"


def services(home: Path, **settings: Any) -> Services:
    loaded = load_settings(
        home=home, embedded_model=False, models=[PARTNER, SECRET_MODEL], **settings
    )
    built = build_services(loaded, SecretStr(ADMIN_KEY))
    built.ready = True  # as after the app's start (the transport below runs no lifespan)
    return built


@pytest.fixture
async def open_to(tmp_path: Path) -> AsyncIterator[Any]:
    opened: list[Services] = []

    async def client(**settings: Any) -> httpx.AsyncClient:
        built = services(tmp_path, **settings)
        opened.append(built)
        transport = httpx.ASGITransport(app=create_app(built))
        return httpx.AsyncClient(transport=transport, base_url="http://corral")

    yield client
    for built in opened:
        await built.ledger.aclose()
        built.db.close()


async def test_anyone_gets_a_bare_status_and_the_operator_the_details(open_to: Any) -> None:
    client = await open_to()

    bare = await client.get("/readyz")
    detailed = await client.get("/readyz", headers=ADMIN)

    assert (bare.status_code, bare.json()) == (200, {"status": "ready"})
    assert detailed.json()["dependencies"] == {"database": "ok"}
    assert detailed.json()["models"]["vllm"] == "remote: https://***@inference.internal:8000/v1"
    assert "hunter2" not in detailed.text


async def test_readiness_follows_a_dead_redis_and_names_it_to_the_operator(open_to: Any) -> None:
    client = await open_to(redis_url=DEAD_REDIS, ops={"readiness_timeout_s": 0.5})

    bare = await client.get("/readyz")
    detailed = await client.get("/readyz", headers=ADMIN)

    assert (bare.status_code, bare.json()) == (503, {"status": "unavailable"})
    assert detailed.status_code == 503
    assert detailed.json()["dependencies"] == {"database": "ok", "redis": "unavailable"}


async def test_metrics_need_the_admin_key_unless_made_public(open_to: Any) -> None:
    private = await open_to()
    public = await open_to(ops={"public_metrics": True})

    anonymous = await private.get("/metrics")
    operator = await private.get("/metrics", headers=ADMIN)
    scraped = await public.get("/metrics")

    assert anonymous.status_code == 401
    assert 'corral_queue_depth{model="acme-secret-finetune"}' in operator.text
    assert scraped.status_code == 200
    assert "acme-secret-finetune" not in scraped.text
    assert 'corral_queue_depth{model="private"}' in scraped.text
    assert 'corral_queue_depth{model="vllm"}' in scraped.text
