"""Scale-out as an operator runs it: nginx in front of two gateways, two inference replicas.

One deployment serves the module (see kit.py): the gateways share PostgreSQL, Redis and one key
secret, and both route `vllm-small` to the same two llama-cpp-python servers. Clients talk to
nginx only, which balances the gateways round robin, so a client's requests land on both:
budgets, rate limits, idempotency and the ledger must hold across the gateways, not per
gateway. The last story stops an inference replica under a running client.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from corral import money
from corral.accounts.admin import KeySpec
from corral.api.chat.protocol import ChatCompletionRequest
from corral.api.chat.serving import to_generation_request
from corral.backends.remote.common import prompt_token_bound
from tests.accounts_kit import (
    KEY_SECRET,
    OK,
    Accounts,
    Outcome,
    TenantKey,
    accounts,
    budget_month_once_idle,
    usage_records,
)
from tests.databases import empty_tables
from tests.deploy_e2e.kit import (
    INPUT_PRICE,
    MODEL_NAME,
    OUTPUT_PRICE,
    SERVED_BY,
    Deployment,
    deploy,
)
from tests.support import ADMIN_KEY

PROMPT: Any = [{"role": "user", "content": "Name a colour."}]
RACERS = 40
FITS = 10
"""The race's budget covers exactly this many requests at their maximum cost."""
PATIENCE_S = 120.0


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory,
    model_path: Path,
    postgres_url: str,
    redis_url: tuple[str, str],
) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("scale-out")
    with deploy(root, model_path, postgres_url, redis_url) as running:
        yield running
    empty_tables(postgres_url)


@pytest.fixture(scope="module")
def operator(deployment: Deployment) -> Iterator[Accounts]:
    with accounts(deployment.home, deployment.database_url, KEY_SECRET) as books:
        yield books


def through_nginx(deployment: Deployment, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=deployment.base_url, api_key=key, max_retries=0, timeout=60)


def new_key(operator: Accounts, name: str, spec: KeySpec | None = None, **tenant: Any) -> TenantKey:
    return operator.tenant_with_key(f"{name}-{secrets.token_hex(3)}", spec, **tenant)


# -- budgets -----------------------------------------------------------------------------------


def max_cost_micros(deployment: Deployment) -> int:
    """What one racer may cost at most: its exact prompt (as the replica counts it), one token."""
    with through_nginx(deployment, ADMIN_KEY) as client:
        probe = client.chat.completions.create(model=MODEL_NAME, messages=PROMPT, max_tokens=1)
    assert probe.usage is not None
    return probe.usage.prompt_tokens * INPUT_PRICE + 1 * OUTPUT_PRICE


def hold_micros() -> int:
    """What a gateway holds for one racer: the prompt's byte bound (a remote replica's own
    count is not known before it answers) and one token, at the model's prices."""
    body = {"model": MODEL_NAME, "messages": PROMPT, "max_tokens": 1}
    request = ChatCompletionRequest.model_validate_json(json.dumps(body))
    bound = prompt_token_bound(to_generation_request(request, "req_race"))
    prices = (INPUT_PRICE * money.MICROS, OUTPUT_PRICE * money.MICROS)
    return money.max_cost_micros(bound, 1, prices)


@dataclass
class Race:
    outcomes: list[Outcome] = field(default_factory=list)
    served_ids: list[str] = field(default_factory=list)
    gateways: set[str] = field(default_factory=set)


async def race(deployment: Deployment, key: str, count: int) -> Race:
    """`count` one-token requests at once through nginx."""
    seen = Race()
    client = openai.AsyncOpenAI(
        base_url=deployment.base_url, api_key=key, max_retries=0, timeout=PATIENCE_S
    )

    async def one() -> None:
        try:
            raw = await client.chat.completions.with_raw_response.create(
                model=MODEL_NAME, messages=PROMPT, max_tokens=1
            )
        except openai.APIStatusError as exc:
            seen.gateways.add(exc.response.headers[SERVED_BY])
            seen.outcomes.append((exc.status_code, exc.code))
            return
        seen.gateways.add(raw.headers[SERVED_BY])
        seen.served_ids.append(raw.headers["x-request-id"])
        seen.outcomes.append(OK)

    try:
        await asyncio.gather(*(one() for _ in range(count)))
    finally:
        await client.close()
    return seen


def test_budget_holds_exactly_when_both_gateways_race_for_it(
    deployment: Deployment, operator: Accounts
) -> None:
    budget = FITS * max_cost_micros(deployment)
    caller = new_key(operator, "thrifty", budget_micros=budget)

    seen = asyncio.run(race(deployment, caller.secret, RACERS))

    served = seen.outcomes.count(OK)
    ledger = usage_records(deployment.database_url, caller.tenant.id)
    month = budget_month_once_idle(deployment.database_url, caller.tenant.id)
    assert seen.gateways == deployment.gateway_addresses()
    # A remote replica's hold is the prompt's upper bound plus one token, more than the racer
    # then costs, so fewer than FITS may hold at once and a settlement can let one more in.
    # Each gateway's budget reservation may strand less than one hold when the other refuses, so
    # all the holds that fit but one are served at least; the money and records are exact.
    assert budget // hold_micros() - 1 <= served <= FITS
    assert seen.outcomes.count((429, "budget_exceeded")) == RACERS - served
    assert sorted(row.request_id for row in ledger) == sorted(seen.served_ids)
    assert sum(row.cost_micros for row in ledger) <= budget
    assert month is not None
    assert month.spent_micros == sum(row.cost_micros for row in ledger)
    assert month.reserved_micros == 0


# -- rate limits -------------------------------------------------------------------------------


def test_per_key_rate_limit_is_one_limit_across_both_gateways(
    deployment: Deployment, operator: Accounts
) -> None:
    caller = new_key(operator, "steady", KeySpec(rpm=4))
    outcomes: list[Outcome] = []
    gateways: list[str] = []

    with through_nginx(deployment, caller.secret) as client:
        for _ in range(8):
            try:
                raw = client.chat.completions.with_raw_response.create(
                    model=MODEL_NAME, messages=PROMPT, max_tokens=1
                )
            except openai.APIStatusError as exc:
                gateways.append(exc.response.headers[SERVED_BY])
                outcomes.append((exc.status_code, exc.code))
                continue
            gateways.append(raw.headers[SERVED_BY])
            outcomes.append(OK)

    assert outcomes.count(OK) == 4
    assert outcomes.count((429, "rate_limit_exceeded")) == 4
    assert set(gateways[:4]) == deployment.gateway_addresses()


# -- idempotency -------------------------------------------------------------------------------


def test_idempotent_retry_reaching_the_other_gateway_is_answered_and_billed_once(
    deployment: Deployment, operator: Accounts
) -> None:
    caller = new_key(operator, "retrying")
    headers = {"Idempotency-Key": f"order-{secrets.token_hex(4)}"}

    with through_nginx(deployment, caller.secret) as client:
        first = client.chat.completions.with_raw_response.create(
            model=MODEL_NAME, messages=PROMPT, max_tokens=4, extra_headers=headers
        )
        retry = client.chat.completions.with_raw_response.create(
            model=MODEL_NAME, messages=PROMPT, max_tokens=4, extra_headers=headers
        )

    assert {first.headers[SERVED_BY], retry.headers[SERVED_BY]} == deployment.gateway_addresses()
    assert retry.text == first.text
    assert retry.headers.get("idempotent-replayed") == "true"
    assert len(usage_records(deployment.database_url, caller.tenant.id)) == 1


# -- the ledger --------------------------------------------------------------------------------


async def mixed_load(deployment: Deployment, key: str, count: int) -> list[httpx.Response]:
    """`count` requests at once, every other one streamed; each response read to its end."""
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(
        base_url=deployment.base_url, headers=headers, timeout=PATIENCE_S
    ) as client:

        async def one(i: int) -> httpx.Response:
            body = {"model": MODEL_NAME, "messages": PROMPT, "max_tokens": 3, "stream": i % 2 == 1}
            response = await client.post("/chat/completions", json=body)
            return response  # httpx has read the whole body (stream or not) by now

        return await asyncio.gather(*(one(i) for i in range(count)))


def test_every_answer_through_either_gateway_has_exactly_one_usage_record(
    deployment: Deployment, operator: Accounts
) -> None:
    caller = new_key(operator, "metered")

    responses = asyncio.run(mixed_load(deployment, caller.secret, 12))

    records = Counter(
        row.request_id for row in usage_records(deployment.database_url, caller.tenant.id)
    )
    assert [response.status_code for response in responses] == [200] * 12
    assert {response.headers["x-corral-backend"] for response in responses} == {MODEL_NAME}
    assert {response.headers[SERVED_BY] for response in responses} == (
        deployment.gateway_addresses()
    )
    assert records == Counter(response.headers["x-request-id"] for response in responses)
    assert set(records.values()) == {1}


# -- failover (last: it stops a replica for good) ----------------------------------------------


@dataclass
class Steady:
    """A client asking one non-streamed question after another, until told to stop."""

    deployment: Deployment
    key: str
    statuses: list[tuple[int, str | None]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    failure: BaseException | None = None

    def run(self) -> None:
        try:
            with through_nginx(self.deployment, self.key) as client:
                while not self.stop.is_set():
                    self.statuses.append(self.ask(client))
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.failure = exc

    def ask(self, client: openai.OpenAI) -> tuple[int, str | None]:
        try:
            raw = client.chat.completions.with_raw_response.create(
                model=MODEL_NAME, messages=PROMPT, max_tokens=2
            )
        except openai.APIStatusError as exc:
            return exc.status_code, exc.code
        except openai.APIConnectionError as exc:
            return 0, repr(exc)
        return raw.status_code, raw.headers.get("x-corral-backend")

    def wait_for(self, answers: int) -> None:
        deadline = time.monotonic() + PATIENCE_S
        while len(self.statuses) < answers and time.monotonic() < deadline:
            if self.failure is not None:
                raise self.failure
            time.sleep(0.02)
        assert len(self.statuses) >= answers, f"only {len(self.statuses)} answers in time"


def gateways_resting_a_replica(deployment: Deployment) -> set[str]:
    """The gateways (as nginx names them) whose readiness says one replica's circuit is open."""
    resting: set[str] = set()
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}  # readiness details are the operator's
    with httpx.Client(base_url=deployment.nginx.base_url, timeout=PATIENCE_S) as client:
        for _ in deployment.gateways:
            ready = client.get("/readyz", headers=admin)
            if ready.json()["models"][MODEL_NAME] == "1 of 2 replicas available":
                resting.add(ready.headers[SERVED_BY])
    return resting


def test_stopping_an_inference_replica_mid_run_is_invisible_to_clients(
    deployment: Deployment, operator: Accounts
) -> None:
    caller = new_key(operator, "steady-failover")
    client = Steady(deployment, caller.secret)
    thread = threading.Thread(target=client.run)
    thread.start()
    try:
        client.wait_for(6)
        deployment.replicas[0].stop()
        stopped_at = len(client.statuses)
        deadline = time.monotonic() + PATIENCE_S
        while gateways_resting_a_replica(deployment) != deployment.gateway_addresses():
            assert time.monotonic() < deadline, "the gateways never noticed the stopped replica"
            client.wait_for(len(client.statuses) + 1)
    finally:
        client.stop.set()
        thread.join(timeout=PATIENCE_S)

    assert client.failure is None
    assert len(client.statuses) > stopped_at >= 6
    assert client.statuses == [(200, MODEL_NAME)] * len(client.statuses)
