"""A budget holds under a storm: 200 requests at once against a budget that fits exactly 50.

Each request reserves its maximum possible cost before it runs, so however the requests
interleave (in one process on SQLite, or across two gateway processes sharing PostgreSQL)
no more is served, or billed, than the budget covers.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.accounts_kit import (
    KEY_SECRET,
    OK,
    Outcome,
    accounts,
    budget_month_once_idle,
    model_table,
    sdk,
    sqlite_url,
    start_servers,
    usage_records,
)
from tests.databases import empty_tables
from tests.support import ADMIN_KEY, MODEL, RunningServer, start_server

REQUESTS = 200
FITS = 50
INPUT_PRICE = 2
"""Per million prompt tokens: 2 micro-units a token."""
OUTPUT_PRICE = 30
"""Per million completion tokens: 30 micro-units a token."""
PROMPT: Any = [{"role": "user", "content": "Name a colour."}]


@dataclass
class Deployment:
    servers: list[RunningServer]
    database_url: str
    key_secret: str | None


def priced_model(model_path: Path) -> str:
    return model_table(
        MODEL,
        model_path,
        input_price_per_mtok=INPUT_PRICE,
        output_price_per_mtok=OUTPUT_PRICE,
        queue_size=1000,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def deployment(
    request: pytest.FixtureRequest, tmp_path: Path, model_path: Path
) -> Iterator[Deployment]:
    """SQLite with one gateway process, or PostgreSQL with two."""
    config = priced_model(model_path)
    if request.param == "sqlite":
        server = start_server(tmp_path / "home", config)
        yield Deployment([server], sqlite_url(tmp_path / "home"), None)
        server.stop()
        return
    url: str = request.getfixturevalue("postgres_url")
    env = {"CORRAL_DATABASE_URL": url, "CORRAL_KEY_SECRET": KEY_SECRET}
    servers = start_servers([tmp_path / "a", tmp_path / "b"], config, env)
    try:
        yield Deployment(servers, url, KEY_SECRET)
    finally:
        for server in servers:
            server.stop()
        empty_tables(url)


def max_cost_micros(server: RunningServer) -> int:
    """What one request reserves: its exact prompt at the input price plus one output token."""
    with sdk(server, ADMIN_KEY) as client:
        probe = client.chat.completions.create(
            model=MODEL, messages=PROMPT, max_tokens=1, temperature=0
        )
    assert probe.usage is not None
    return probe.usage.prompt_tokens * INPUT_PRICE + 1 * OUTPUT_PRICE


async def storm(servers: list[RunningServer], key: str, count: int) -> list[Outcome]:
    """`count` requests at once, alternating between the servers."""
    clients = [
        openai.AsyncOpenAI(base_url=f"{s.base_url}/v1", api_key=key, max_retries=0, timeout=120)
        for s in servers
    ]

    async def one(i: int) -> Outcome:
        try:
            await clients[i % len(clients)].chat.completions.create(
                model=MODEL, messages=PROMPT, max_tokens=1, temperature=0
            )
        except openai.APIStatusError as exc:
            return exc.status_code, exc.code
        return OK

    try:
        return await asyncio.gather(*(one(i) for i in range(count)))
    finally:
        for client in clients:
            await client.close()


def test_concurrent_requests_never_spend_past_the_budget(deployment: Deployment) -> None:
    first = deployment.servers[0]
    max_cost = max_cost_micros(first)
    budget = FITS * max_cost
    with accounts(first.home, deployment.database_url, deployment.key_secret) as ops:
        caller = ops.tenant_with_key(f"thrifty-{secrets.token_hex(3)}", budget_micros=budget)

    outcomes = asyncio.run(storm(deployment.servers, caller.secret, REQUESTS))

    served = outcomes.count(OK)
    ledger = usage_records(deployment.database_url, caller.tenant.id)
    month = budget_month_once_idle(deployment.database_url, caller.tenant.id)
    # Greedy decoding: every request costs exactly what it reserved, so settling one frees
    # nothing another could use, and exactly FITS fit.
    assert [row.cost_micros for row in ledger] == [max_cost] * FITS
    assert served == FITS
    assert outcomes.count((429, "budget_exceeded")) == REQUESTS - FITS
    assert sum(row.cost_micros for row in ledger) <= budget
    assert month is not None
    assert month.spent_micros == sum(row.cost_micros for row in ledger)
    assert month.reserved_micros == 0
