"""Accounts end to end: tenants and keys made by the operator's tools, used through a real server.

One server on SQLite (the one-machine setup) serves the embedded model three ways: as itself
(open, Apache 2.0), under a Llama-like licence (acceptance, MAU threshold, gated access) and as
tenant acme's private model. The operator's changes are made from this process, as the CLI
makes them, and must reach the running server within a second. Rate limits shared through
Redis run on two more servers that share PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import openai
import pytest

from corral.accounts.admin import KeySpec
from corral.catalog.licences import from_config
from corral.errors import NotFound
from corral.settings import LicenceConfig
from tests.accounts_kit import (
    KEY_SECRET,
    OK,
    Accounts,
    Outcome,
    TenantKey,
    accounts,
    model_table,
    outcome,
    outcome_within,
    sdk,
    sqlite_url,
    start_servers,
    tenant_api,
    toml_table,
    usage_records,
)
from tests.databases import empty_tables
from tests.support import MODEL, RunningServer, start_server

LLAMA = "llama-3.1-8b-instruct"
PRIVATE = "acme-ft"
LLAMA_LICENCE = LicenceConfig(
    id="llama-community",
    version="3.1",
    name="Llama 3.1 Community License",
    requires_acceptance=True,
    mau_threshold=700_000_000,
    gated=True,
)
HELLO: Any = [{"role": "user", "content": "Hello"}]
NOT_ACCEPTED: Outcome = (403, "licence_not_accepted")
NOT_GRANTED: Outcome = (403, "access_not_granted")
ABOVE_THRESHOLD: Outcome = (403, "licence_threshold_exceeded")
REVOKED: Outcome = (401, "api_key_revoked")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("accounts-e2e")


@pytest.fixture(scope="module")
def operator(home: Path) -> Iterator[Accounts]:
    with accounts(home, sqlite_url(home)) as books:
        yield books


@pytest.fixture(scope="module")
def gateway(home: Path, model_path: Path) -> Iterator[RunningServer]:
    config = (
        toml_table("licences", **LLAMA_LICENCE.model_dump(exclude_none=True))
        + model_table(LLAMA, model_path, licence=LLAMA_LICENCE.id)
        + model_table(PRIVATE, model_path, tier="private", owner="acme")
    )
    running = start_server(home, config)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def acme(operator: Accounts) -> TenantKey:
    return operator.tenant_with_key("acme")


@pytest.fixture(scope="module")
def globex(operator: Accounts) -> TenantKey:
    return operator.tenant_with_key("globex")


def chat(server: RunningServer, key: str, model: str = MODEL) -> None:
    with sdk(server, key) as client:
        client.chat.completions.create(model=model, messages=HELLO, max_tokens=1)


def usage_key_ids(server: RunningServer, key: str, **query: str) -> list[str]:
    with tenant_api(server, key) as api:
        report = api.get("/usage", params=query)
    assert report.status_code == 200, report.text
    return [row["api_key_id"] for day in report.json()["data"] for row in day["results"]]


# -- isolation -------------------------------------------------------------------------------


def test_private_model_exists_only_for_its_owner(
    gateway: RunningServer, acme: TenantKey, globex: TenantKey
) -> None:
    assert outcome(gateway, acme.secret, PRIVATE) == OK

    with sdk(gateway, globex.secret) as client:
        listed = [model.id for model in client.models.list()]
        with pytest.raises(openai.NotFoundError) as card:
            client.models.retrieve(PRIVATE)
    with tenant_api(gateway, globex.secret) as api:
        access = api.post(f"/models/{PRIVATE}/access-requests", json={"reason": "curious"})

    assert outcome(gateway, globex.secret, PRIVATE) == (404, "model_not_found")
    assert PRIVATE not in listed and MODEL in listed
    assert card.value.code == "model_not_found"
    assert access.status_code == 404


def test_usage_shows_only_the_callers_own_rows(
    gateway: RunningServer, acme: TenantKey, globex: TenantKey
) -> None:
    chat(gateway, acme.secret)
    chat(gateway, acme.secret, PRIVATE)
    chat(gateway, globex.secret)
    with tenant_api(gateway, globex.secret) as api:
        everyones = api.get(f"{gateway.base_url}/admin/usage")

    assert set(usage_key_ids(gateway, acme.secret)) == {acme.key_id}
    assert set(usage_key_ids(gateway, globex.secret)) == {globex.key_id}
    assert usage_key_ids(gateway, globex.secret, api_key_id=acme.key_id) == []
    assert usage_key_ids(gateway, globex.secret, model=PRIVATE) == []
    assert everyones.status_code >= 400 or acme.key_id not in everyones.text


def test_access_requests_and_acceptances_stay_with_their_tenant(
    gateway: RunningServer, acme: TenantKey, globex: TenantKey
) -> None:
    with tenant_api(gateway, acme.secret) as api:
        assert api.post(f"/licences/{LLAMA_LICENCE.id}/accept").status_code == 200
        asked = api.post(f"/models/{LLAMA}/access-requests", json={"reason": "chat bot"}).json()

    with tenant_api(gateway, globex.secret) as api:
        theirs = api.get("/access-requests").json()["data"]
        guesses = [
            api.get(f"/access-requests/{asked['id']}"),
            api.get(f"{gateway.base_url}/admin/access-requests"),
            api.post(f"{gateway.base_url}/admin/access-requests/{asked['id']}/approve"),
        ]
        licence = api.get(f"/licences/{LLAMA_LICENCE.id}").json()

    assert asked["status"] == "pending"
    assert asked["id"] not in [request["id"] for request in theirs]
    for guess in guesses:
        assert guess.status_code >= 400 or asked["id"] not in guess.text, guess.request.url
    assert licence["accepted_version"] is None
    assert outcome(gateway, globex.secret, LLAMA) == (403, "licence_not_accepted")


def test_another_tenants_key_can_be_neither_seen_nor_revoked(
    gateway: RunningServer, operator: Accounts, acme: TenantKey, globex: TenantKey
) -> None:
    with tenant_api(gateway, globex.secret) as api:
        probes = [
            api.get("/keys"),
            api.get(f"/keys/{acme.key_id}"),
            api.delete(f"/keys/{acme.key_id}"),
            api.post(f"/keys/{acme.key_id}/revoke"),
            api.get(f"{gateway.base_url}/admin/keys"),
            api.post(f"{gateway.base_url}/admin/keys/{acme.key_id}/revoke"),
        ]

    with pytest.raises(NotFound):
        operator.admin.revoke_key(acme.key_id, tenant_id=globex.tenant.id)
    for probe in probes:
        assert probe.status_code >= 400 or acme.key_id not in probe.text, probe.request.url
    assert outcome(gateway, acme.secret) == OK


# -- idempotency -----------------------------------------------------------------------------


def test_idempotent_retry_is_answered_and_billed_once(
    gateway: RunningServer, operator: Accounts, home: Path
) -> None:
    caller = operator.tenant_with_key("retrying")
    headers = {"Idempotency-Key": "order-42"}

    with sdk(gateway, caller.secret) as client:
        first = client.chat.completions.with_raw_response.create(
            model=MODEL, messages=HELLO, max_tokens=4, extra_headers=headers
        )
        retry = client.chat.completions.with_raw_response.create(
            model=MODEL, messages=HELLO, max_tokens=4, extra_headers=headers
        )
        with pytest.raises(openai.BadRequestError) as reused:
            client.chat.completions.create(
                model=MODEL, messages=HELLO, max_tokens=5, extra_headers=headers
            )

    assert retry.text == first.text
    assert retry.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(usage_records(sqlite_url(home), caller.tenant.id)) == 1
    assert reused.value.code == "idempotency_key_reused"


# -- licences and access ---------------------------------------------------------------------


def test_accepting_the_licence_then_approved_access_unlock_a_gated_model(
    gateway: RunningServer, operator: Accounts
) -> None:
    caller = operator.tenant_with_key("startup")
    with sdk(gateway, caller.secret) as client, pytest.raises(openai.APIStatusError) as first:
        client.chat.completions.create(model=LLAMA, messages=HELLO, max_tokens=1)
    assert (first.value.status_code, first.value.code) == NOT_ACCEPTED
    assert f"POST /v1/licences/{LLAMA_LICENCE.id}/accept" in first.value.message

    with tenant_api(gateway, caller.secret) as api:
        assert api.post(f"/licences/{LLAMA_LICENCE.id}/accept").status_code == 200
        assert outcome_within(gateway, caller.secret, NOT_GRANTED, LLAMA) == NOT_GRANTED
        request = api.post(f"/models/{LLAMA}/access-requests", json={"reason": "support bot"})
    operator.access.decide(request.json()["id"], "approved", "fine")

    assert outcome_within(gateway, caller.secret, OK, LLAMA) == OK


def test_tenant_above_the_mau_threshold_needs_a_recorded_grant(
    gateway: RunningServer, operator: Accounts
) -> None:
    giant = operator.tenant_with_key("giant", mau=800_000_000)
    with tenant_api(gateway, giant.secret) as api:
        api.post(f"/licences/{LLAMA_LICENCE.id}/accept").raise_for_status()
        request = api.post(f"/models/{LLAMA}/access-requests", json={"reason": "feeds"})
    operator.access.decide(request.json()["id"], "approved", None)
    assert outcome_within(gateway, giant.secret, ABOVE_THRESHOLD, LLAMA) == ABOVE_THRESHOLD

    operator.access.grant_licence("giant", from_config(LLAMA_LICENCE), "signed 2026-11")

    assert outcome_within(gateway, giant.secret, OK, LLAMA) == OK


def test_key_limited_to_premium_models_cannot_use_an_open_model(
    gateway: RunningServer, operator: Accounts
) -> None:
    caller = operator.tenant_with_key("premium-only", KeySpec(tiers=["premium"]))

    assert outcome(gateway, caller.secret) == (403, "tier_not_allowed")


# -- keys --------------------------------------------------------------------------------------


def test_revoked_key_is_refused_within_a_second(gateway: RunningServer, operator: Accounts) -> None:
    caller = operator.tenant_with_key("leaky")
    assert outcome(gateway, caller.secret) == OK

    operator.admin.revoke_key(caller.key_id)

    assert outcome_within(gateway, caller.secret, REVOKED) == REVOKED


def test_expired_and_made_up_keys_are_refused(gateway: RunningServer, operator: Accounts) -> None:
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    expired = operator.tenant_with_key("lapsed", KeySpec(expires_at=yesterday))
    made_up = f"crl_{secrets.token_hex(6)}_{secrets.token_hex(24)}"

    assert outcome(gateway, expired.secret) == (401, "api_key_expired")
    assert outcome(gateway, made_up) == (401, "invalid_api_key")
    assert outcome(gateway, "sk-" + secrets.token_hex(16)) == (401, "invalid_api_key")


def test_no_key_ever_reaches_the_server_log(gateway: RunningServer, operator: Accounts) -> None:
    caller = operator.tenant_with_key("logged")
    made_up = f"crl_{secrets.token_hex(6)}_{secrets.token_hex(24)}"
    outcome(gateway, caller.secret)
    outcome(gateway, made_up)
    operator.admin.revoke_key(caller.key_id)
    outcome_within(gateway, caller.secret, REVOKED)

    log = gateway.log_text()

    assert log.count('"path":"/v1/chat/completions"') >= 3, "the requests should be logged"
    for secret in [*operator.issued, made_up]:
        assert secret not in log
        assert secret.rsplit("_", 1)[1] not in log


# -- rate limits -------------------------------------------------------------------------------


def rate_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.startswith("x-ratelimit-")}


def test_fourth_request_in_a_minute_is_refused_and_every_answer_says_why(
    gateway: RunningServer, operator: Accounts
) -> None:
    caller = operator.tenant_with_key("steady", KeySpec(rpm=3))

    with sdk(gateway, caller.secret) as client:
        answers = [
            client.chat.completions.with_raw_response.create(
                model=MODEL, messages=HELLO, max_tokens=1
            )
            for _ in range(3)
        ]
        with pytest.raises(openai.RateLimitError) as fourth:
            client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=1)

    for left, answer in zip([2, 1, 0], answers, strict=True):
        headers = rate_headers(answer.headers)
        assert headers["x-ratelimit-limit-requests"] == "3"
        assert headers["x-ratelimit-remaining-requests"] == str(left)
        assert headers["x-ratelimit-reset-requests"]
    refused = fourth.value.response.headers
    assert fourth.value.code == "rate_limit_exceeded"
    assert int(refused["retry-after"]) >= 1
    assert rate_headers(refused)["x-ratelimit-limit-requests"] == "3"
    assert rate_headers(refused)["x-ratelimit-remaining-requests"] == "0"
    assert rate_headers(refused)["x-ratelimit-reset-requests"]


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str, redis_url: tuple[str, str]
) -> Iterator[tuple[RunningServer, RunningServer]]:
    """Two gateway processes sharing one PostgreSQL database and one Redis."""
    env = {
        "CORRAL_DATABASE_URL": postgres_url,
        "CORRAL_KEY_SECRET": KEY_SECRET,
        "CORRAL_REDIS_URL": redis_url[0],
        "CORRAL_REDIS_NAMESPACE": redis_url[1],
    }
    homes = [tmp_path_factory.mktemp(name) for name in ("replica-a", "replica-b")]
    first, second = start_servers(homes, env=env)
    yield first, second
    first.stop()
    second.stop()
    empty_tables(postgres_url)


def test_servers_sharing_redis_enforce_one_limit_between_them(
    replicas: tuple[RunningServer, RunningServer],
    postgres_url: str,
    tmp_path: Path,
) -> None:
    with accounts(tmp_path, postgres_url, KEY_SECRET) as books:
        caller = books.tenant_with_key(f"split-{secrets.token_hex(3)}", KeySpec(rpm=4))

    outcomes = [outcome(replicas[i % 2], caller.secret) for i in range(8)]

    assert outcomes.count(OK) == 4
    assert outcomes.count((429, "rate_limit_exceeded")) == 4
