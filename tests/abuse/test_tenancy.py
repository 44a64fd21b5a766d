"""Hostile tenants: what one tenant does (abandoning requests in bulk) must not cost another
tenant its service, and what it abandons is stopped and billed."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.accounts_kit import (
    Accounts,
    accounts,
    model_table,
    sdk,
    sqlite_url,
    usage_records,
)
from tests.support import MODEL, RunningServer, start_server

CROWDED = "crowded"
"""A local model with a short wait queue, which a burst overflows."""
QUEUE = 4
LONG_INPUT = "The quick brown fox jumps over the lazy dog while the cat watches. " * 4


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("abuse-tenancy")


@pytest.fixture(scope="module")
def tenants(home: Path) -> Iterator[Accounts]:
    with accounts(home, sqlite_url(home)) as books:
        yield books


@pytest.fixture(scope="module")
def gateway(home: Path, model_path: Path) -> Iterator[RunningServer]:
    running = start_server(home, model_table(CROWDED, model_path, queue_size=QUEUE))
    yield running
    running.stop()


def hang_up_after(
    server: RunningServer, key: str, path: str, body: dict[str, Any], after_s: float
) -> None:
    """One request from a client that gives up after `after_s` (or is refused sooner)."""
    with contextlib.suppress(httpx.ReadTimeout):
        httpx.post(
            f"{server.base_url}/v1{path}",
            headers={"Authorization": f"Bearer {key}"},
            json=body,
            timeout=httpx.Timeout(30, read=after_s),
        )


def in_parallel(count: int, call: Callable[[], None]) -> None:
    with ThreadPoolExecutor(count) as pool:
        for done in [pool.submit(call) for _ in range(count)]:
            done.result()


def test_a_burst_abandoned_by_one_tenant_does_not_shut_the_model_for_another(
    gateway: RunningServer, tenants: Accounts
) -> None:
    attacker, bystander = tenants.tenant_with_key("burst"), tenants.tenant_with_key("calm")
    burst = {"model": CROWDED, "messages": [{"role": "user", "content": "Count"}], "max_tokens": 64}

    in_parallel(45, lambda: hang_up_after(gateway, attacker.secret, "/chat/completions", burst, 1))

    with sdk(gateway, bystander.secret) as client:
        answer = client.chat.completions.create(
            model=CROWDED, messages=[{"role": "user", "content": "Hi"}], max_tokens=2
        )
    assert answer.choices[0].message.content is not None


def test_abandoned_embeddings_are_stopped_billed_and_do_not_hold_up_another_tenant(
    gateway: RunningServer, tenants: Accounts, home: Path
) -> None:
    attacker, bystander = tenants.tenant_with_key("dropper"), tenants.tenant_with_key("patient")
    body = {"model": MODEL, "input": [LONG_INPUT] * 16}
    with sdk(gateway, bystander.secret) as client:
        started = time.monotonic()
        client.embeddings.create(model=MODEL, input=LONG_INPUT)
        one_input_s = time.monotonic() - started

        in_parallel(4, lambda: hang_up_after(gateway, attacker.secret, "/embeddings", body, 1))
        started = time.monotonic()
        client.embeddings.create(model=MODEL, input="right after")
        waited = time.monotonic() - started

    assert waited < 3 * one_input_s + 1  # not behind 4 x 16 inputs
    deadline = time.monotonic() + 5
    while not (billed := usage_records(sqlite_url(home), attacker.tenant.id)):
        assert time.monotonic() < deadline, "the abandoned embeddings were never billed"
        time.sleep(0.1)
    assert {r.outcome for r in billed} == {"cancelled"}
    assert 0 < sum(r.prompt_tokens for r in billed) < 4 * 16 * 60
