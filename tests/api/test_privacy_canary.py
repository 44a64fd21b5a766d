"""The privacy canary: what a partner provider receives from corral, end to end over HTTP.

The fake provider keeps every request it is sent. A tenant on `pseudonymize` gets its
personal data back in the answer, though the provider never saw it; a tenant on `local_only`
never reaches the provider at all; a route falls back to the next model when the provider
fails, and says which model answered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest

from tests.accounts_kit import sdk as client
from tests.providers.openai_fake import KEY, OpenAIFake
from tests.providers.partner_kit import GPT_MINI, OPENAI_ENV, Partner, behind_corral, tenant_key
from tests.support import MODEL, RunningServer

CONFIG = (
    GPT_MINI
    + """
[[routes]]
name = "assistant"
models = ["gpt-mini", "{local}"]

[routing]
attempts_per_backend = 1
backoff_initial_s = 0.01
"""
)
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
def partner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Partner[OpenAIFake]]:
    home = tmp_path_factory.mktemp("canary")
    with behind_corral(OpenAIFake(keys=(KEY,)), home, CONFIG, OPENAI_ENV, local=MODEL) as partner:
        yield partner


@pytest.fixture
def server(partner: Partner[OpenAIFake]) -> RunningServer:
    return partner.server


@pytest.fixture
def provider(partner: Partner[OpenAIFake]) -> OpenAIFake:
    return partner.fake


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
