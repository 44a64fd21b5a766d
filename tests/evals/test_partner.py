"""An eval against a partner model goes through the privacy guard like any request: a tenant
under `pseudonymize` has personal data in its items masked before the partner sees them and
restored in the answers it grades; a tenant under `local_only` cannot start the run at all."""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from pydantic import SecretStr

from corral.accounts.admin import KeySpec
from corral.api.app import create_app
from corral.evals.manifest import SigningKey
from corral.evals.provenance import model_facts
from corral.evals.runner import KIND, EvalDeps, EvalRunHandler
from corral.evals.store import EvalStore
from corral.files.store import FileStore
from corral.jobs import JobQueue
from corral.services import Services, build_services
from corral.settings import load_settings
from tests.jobs.conftest import fast_worker, finished, running
from tests.providers.openai_fake import KEY, OpenAIFake
from tests.providers.partner_kit import GPT_MINI
from tests.providers.server import serving
from tests.support import ADMIN_KEY

PEOPLE = [
    {"item": {"email": "maria.schmidt@example.com"}},
    {"item": {"email": "jo.bloggs@example.org"}},
]
REPEATS = {
    "type": "string_check",
    "name": "repeats the address",
    "input": "{{sample.output_text}}",
    "reference": "{{item.email}}",
    "operation": "like",
}


def partner_services(home: Path, url: str) -> Services:
    (model,) = tomllib.loads(GPT_MINI.format(url=url))["models"]
    settings = load_settings(home=home, embedded_model=False, models=[model])
    return build_services(settings, SecretStr(ADMIN_KEY))


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[OpenAIFake, str]]:
    monkeypatch.setenv("FAKE_OPENAI_KEY", KEY)
    partner = OpenAIFake()
    with partner.running() as url:
        yield partner, url


def work_off(home: Path, url: str, run_id: str) -> dict[str, Any]:
    services = partner_services(home, url)
    deps = EvalDeps(
        services.gateway,
        FileStore(services.db, home, services.settings.files),
        EvalStore(services.db),
        SigningKey.load_or_create(home),
        lambda model: model_facts(services.settings, model, home),
    )

    async def run() -> dict[str, Any]:
        queue = JobQueue(services.db)
        async with running(fast_worker(queue, {KIND: EvalRunHandler(lambda: deps)})):
            job = await finished(queue, run_id)
        for entry in services.gateway.catalog.entries():
            await entry.backend.close()
        assert job.status == "succeeded", job.error
        assert job.result is not None
        return job.result

    try:
        return asyncio.run(run())
    finally:
        services.db.close()


def test_a_partner_sees_placeholders_and_the_grades_see_the_real_values(
    tmp_path: Path, fake: tuple[OpenAIFake, str]
) -> None:
    partner, url = fake
    services = partner_services(tmp_path, url)
    services.accounts.admin.create_tenant("acme", policy="pseudonymize")
    services.accounts.admin.create_tenant("vault", policy="local_only")
    keys = {t: services.accounts.admin.create_key(t, KeySpec())[1] for t in ("acme", "vault")}
    source = {
        "type": "completions",
        "model": "gpt-mini",
        "source": {"type": "file_content", "content": PEOPLE},
        "input_messages": {
            "type": "template",
            "template": [{"role": "user", "content": "Repeat {{item.email}}"}],
        },
    }
    with serving(create_app(services)) as corral:
        sdks = {
            t: openai.OpenAI(base_url=f"{corral}/v1", api_key=k, max_retries=0)
            for t, k in keys.items()
        }
        made = {
            t: sdk.evals.create(
                data_source_config={"type": "custom", "item_schema": {}},
                testing_criteria=[REPEATS],  # type: ignore[list-item]
            )
            for t, sdk in sdks.items()
        }
        with pytest.raises(openai.PermissionDeniedError):
            sdks["vault"].evals.runs.create(made["vault"].id, data_source=source)  # type: ignore[arg-type]
        run = sdks["acme"].evals.runs.create(made["acme"].id, data_source=source)  # type: ignore[arg-type]
    services.db.close()

    result = work_off(tmp_path, url, run.id)

    assert result["result_counts"]["passed"] == 2
    sent = " ".join(str(body) for body in partner.bodies())
    assert "maria.schmidt@example.com" not in sent and "jo.bloggs" not in sent
    assert result["manifest"]["manifest"]["model"]["upstream"] == "gpt-4o-mini"
    exposed = {"provider": "openai", "upstream": "gpt-4o-mini", "items": 2}
    assert result["manifest"]["manifest"]["exposure"] == exposed  # the partner saw the set
