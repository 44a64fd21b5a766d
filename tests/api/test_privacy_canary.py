"""The privacy canary: what a partner provider receives from corral, end to end over HTTP.

The fake provider keeps every request it is sent. A tenant on `pseudonymize` gets its
personal data back in the answer, though the provider never saw it; a tenant on `local_only`
never reaches the provider at all; a route falls back to the next model when the provider
fails, and says which model answered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from corral.accounts.admin import AccountsAdmin
from corral.accounts.keys import key_hasher
from corral.settings import load_settings
from corral.storage import open_database
from tests.providers.openai_fake import KEY, OpenAIFake
from tests.providers.server import serving
from tests.support import MODEL, RunningServer, start_server

CONFIG = """
[[models]]
name = "gpt-mini"
tier = "partner"
backend = "openai"
base_url = "{url}/v1"
api_key_env = "FAKE_OPENAI_KEY"
upstream_model = "gpt-4o-mini"
timeout_s = 10

[[routes]]
name = "assistant"
models = ["gpt-mini", "{local}"]

[routing]
attempts_per_backend = 1
backoff_initial_s = 0.01
"""
PERSONAL = {
    "name": "Anna Schmidt",
    "email": "anna.schmidt@example.org",
    "iban": "DE89370400440532013000",
    "phone": "+49 30 12345678",
}
PROMPT = (
    f"Hi, I am {PERSONAL['name']}, reach me at {PERSONAL['email']} or {PERSONAL['phone']}; "
    f"my IBAN is {PERSONAL['iban']}."
)


@pytest.fixture(scope="module")
def provider() -> Iterator[OpenAIFake]:
    fake = OpenAIFake(keys=(KEY,))
    with serving(fake.app) as url:
        fake.url = url  # type: ignore[attr-defined]
        yield fake


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, provider: OpenAIFake
) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("canary")
    config = CONFIG.format(url=provider.url, local=MODEL)  # type: ignore[attr-defined]
    running = start_server(home, config, {"FAKE_OPENAI_KEY": KEY})
    yield running
    running.stop()


def tenant_key(home: Path, name: str, policy: str) -> str:
    db = open_database(load_settings(home=home, embedded_model=False))
    try:
        admin = AccountsAdmin(db, key_hasher(home, None))
        tenant = admin.create_tenant(name, policy=policy)
        from corral.accounts.admin import KeySpec

        return admin.create_key(tenant.id, KeySpec())[1]
    finally:
        db.close()


def client(server: RunningServer, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=key, max_retries=0)


def everything_sent(provider: OpenAIFake) -> str:
    return json.dumps(provider.bodies(), ensure_ascii=False)


def test_pseudonymized_values_never_reach_the_provider_and_come_back(
    server: RunningServer, provider: OpenAIFake
) -> None:
    provider.reset()
    key = tenant_key(server.home, "acme", "pseudonymize")

    with client(server, key) as sdk:
        answer = sdk.chat.completions.create(
            model="gpt-mini", messages=[{"role": "user", "content": PROMPT}]
        )
        streamed = sdk.chat.completions.create(
            model="gpt-mini", messages=[{"role": "user", "content": PROMPT}], stream=True
        )
        streamed_text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)

    sent = everything_sent(provider)
    assert len(provider.bodies()) == 2
    for value in PERSONAL.values():
        assert value not in sent
        assert value in (answer.choices[0].message.content or "")
        assert value in streamed_text


def test_local_only_sends_the_provider_nothing(server: RunningServer, provider: OpenAIFake) -> None:
    provider.reset()
    key = tenant_key(server.home, "globex", "local_only")

    with client(server, key) as sdk:
        with pytest.raises(openai.PermissionDeniedError) as refused:
            sdk.chat.completions.create(
                model="gpt-mini", messages=[{"role": "user", "content": PROMPT}]
            )
        routed = sdk.chat.completions.with_raw_response.create(
            model="assistant", messages=[{"role": "user", "content": "Hi"}], max_tokens=2
        )

    assert refused.value.code == "data_policy_forbids_partner"
    assert routed.headers["x-corral-backend"] == MODEL
    assert provider.bodies() == []


def test_a_route_falls_back_when_the_provider_fails(
    server: RunningServer, provider: OpenAIFake
) -> None:
    provider.reset()
    provider.fail_next("unavailable", times=1)
    key = tenant_key(server.home, "initech", "allow")

    with client(server, key) as sdk:
        routed = sdk.chat.completions.with_raw_response.create(
            model="assistant", messages=[{"role": "user", "content": "Hi"}], max_tokens=2
        )
        direct = sdk.chat.completions.with_raw_response.create(
            model="assistant", messages=[{"role": "user", "content": "Hi"}], max_tokens=2
        )

    assert routed.headers["x-corral-backend"] == MODEL  # the partner failed: the local model
    assert direct.headers["x-corral-backend"] == "gpt-mini"  # it is back


def test_the_responses_api_is_pseudonymized_as_chat_is(
    server: RunningServer, provider: OpenAIFake
) -> None:
    provider.reset()
    key = tenant_key(server.home, "acme-responses", "pseudonymize")

    with client(server, key) as sdk:
        answer = sdk.responses.create(model="gpt-mini", input=PROMPT)

    sent = everything_sent(provider)
    assert len(provider.bodies()) == 1
    for value in PERSONAL.values():
        assert value not in sent
        assert value in answer.output_text
